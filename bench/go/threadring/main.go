// Peer of bench/threadring.c: 503 goroutines in a ring pass a token.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

const ring = 503

func main() {
	hops := 10000000
	if len(os.Args) > 1 {
		hops, _ = strconv.Atoi(os.Args[1])
	}
	var ch [ring]chan int
	for i := range ch {
		ch[i] = make(chan int)
	}
	done := make(chan int)
	for i := 0; i < ring; i++ {
		go func(id int) {
			in, out := ch[id], ch[(id+1)%ring]
			for {
				t := <-in
				if t == 0 {
					done <- id
					return
				}
				out <- t - 1
			}
		}(i)
	}
	t0 := time.Now()
	ch[0] <- hops
	<-done
	fmt.Printf("RESULT threadring_ns_per_hop %.1f ns\n", float64(time.Since(t0).Nanoseconds())/float64(hops))
}
