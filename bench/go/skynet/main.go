// Peer of bench/skynet.c: the skynet benchmark.
package main

import (
	"fmt"
	"os"
	"time"
)

func skynet(c chan int, num, size int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	sz := size / 10
	for i := 0; i < 10; i++ {
		go skynet(rc, num+i*sz, sz)
	}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	c := make(chan int)
	t0 := time.Now()
	go skynet(c, 0, 1000000)
	r := <-c
	if r != 499999500000 {
		fmt.Println("wrong result", r)
		os.Exit(1)
	}
	fmt.Printf("RESULT skynet_ms %.1f ms\n", float64(time.Since(t0).Nanoseconds())/1e6)
}
