module drover/goref

go 1.19
