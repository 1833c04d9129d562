// Peer of bench/yield.c: two goroutines alternating runtime.Gosched
// (run with GOMAXPROCS=1).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 10000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	wg.Add(2)
	t0 := time.Now()
	for g := 0; g < 2; g++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	fmt.Printf("RESULT yield_ns_per_switch %.1f ns\n", float64(time.Since(t0).Nanoseconds())/float64(2*n))
}
