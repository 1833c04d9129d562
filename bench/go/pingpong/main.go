// Peer of bench/pingpong.c: unbuffered ping-pong between two goroutines.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

func main() {
	n := 2000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	fmt.Printf("RESULT pingpong_ns_per_roundtrip %.1f ns\n", float64(time.Since(t0).Nanoseconds())/float64(n))
	close(ping)
}
