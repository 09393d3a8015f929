// Command goref is the Go reference program for drover's benchmarks
// (docs/benchmarks.md): the classic worker pool with a supervisor.
//
// It reads one integer per line from stdin, sends each one down a buffered
// jobs channel to N worker goroutines that square it, and collects the
// squares from a buffered results channel; a WaitGroup and a closer goroutine
// end the results stream once every worker is done. The main goroutine sums
// the squares exactly (128 bits) and prints a summary line on stderr:
//
//	goref: N jobs in X s (R jobs/s); sum S
//
// With -print it also prints every square on stdout, one fmt.Fprintln per
// job through a bufio.Writer ("the reference with its printf").
package main

import (
	"bufio"
	"flag"
	"fmt"
	"math/big"
	"math/bits"
	"os"
	"strconv"
	"sync"
	"time"
)

// chanBuf is the capacity of the jobs and results channels.
const chanBuf = 1024

// worker squares every job it receives until jobs is closed.
func worker(jobs <-chan int64, results chan<- int64, wg *sync.WaitGroup) {
	defer wg.Done()
	for x := range jobs {
		results <- x * x
	}
}

// produce reads one integer per line from stdin into jobs, then closes it.
// A line that is not an integer is fatal: the benchmark input is generated.
func produce(jobs chan<- int64) {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		x, err := strconv.ParseInt(sc.Text(), 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "goref: stdin:%d: %v\n", line, err)
			os.Exit(1)
		}
		jobs <- x
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "goref: unable to read stdin: %v\n", err)
		os.Exit(1)
	}
	close(jobs)
}

func main() {
	nworkers := flag.Int("w", 2, "number of worker goroutines")
	printEach := flag.Bool("print", false, "print each square on stdout")
	flag.Parse()
	if *nworkers < 1 {
		fmt.Fprintln(os.Stderr, "goref: -w must be at least 1")
		os.Exit(2)
	}

	start := time.Now()
	jobs := make(chan int64, chanBuf)
	results := make(chan int64, chanBuf)

	var wg sync.WaitGroup
	for i := 0; i < *nworkers; i++ {
		wg.Add(1)
		go worker(jobs, results, &wg)
	}
	go produce(jobs)
	go func() {
		wg.Wait()
		close(results)
	}()

	out := bufio.NewWriter(os.Stdout)
	var n int64
	var hi, lo uint64 // the sum of squares, 128 bits; squares are >= 0
	for r := range results {
		n++
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(r), 0)
		hi += carry
		if *printEach {
			fmt.Fprintln(out, r)
		}
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintf(os.Stderr, "goref: unable to write stdout: %v\n", err)
		os.Exit(1)
	}
	elapsed := time.Since(start).Seconds()

	sum := new(big.Int).Lsh(new(big.Int).SetUint64(hi), 64)
	sum.Or(sum, new(big.Int).SetUint64(lo))
	rate := 0.0
	if elapsed > 0 {
		rate = float64(n) / elapsed
	}
	fmt.Fprintf(os.Stderr, "goref: %d jobs in %.3f s (%.0f jobs/s); sum %s\n",
		n, elapsed, rate, sum)
}
