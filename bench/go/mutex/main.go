// Peer of bench/mutex.c: sync.Mutex contended by 4 goroutines.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 2000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	const g = 4
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	wg.Add(g)
	t0 := time.Now()
	for i := 0; i < g; i++ {
		go func() {
			for j := 0; j < n; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	if counter != g*n {
		os.Exit(1)
	}
	fmt.Printf("RESULT mutex_ns_per_op %.1f ns\n", float64(time.Since(t0).Nanoseconds())/float64(g*n))
}
