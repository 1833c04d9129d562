// Peer of bench/spawn.c: spawn N goroutines that each call wg.Done.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 1000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
	fmt.Printf("RESULT spawn_ns_per_goroutine %.1f ns\n", float64(time.Since(t0).Nanoseconds())/float64(n))
}
