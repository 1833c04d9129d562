// Peer of bench/buffered.c: cap-128 channel, 4 producers x 4 consumers.
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func main() {
	n := 10000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	per := n / 4
	c := make(chan int, 128)
	var prod, cons sync.WaitGroup
	var sums [4]int
	prod.Add(4)
	cons.Add(4)
	t0 := time.Now()
	for k := 0; k < 4; k++ {
		go func(k int) {
			s := 0
			for v := range c {
				s += v
			}
			sums[k] = s
			cons.Done()
		}(k)
		go func() {
			for i := 0; i < per; i++ {
				c <- i
			}
			prod.Done()
		}()
	}
	prod.Wait()
	close(c)
	cons.Wait()
	el := time.Since(t0)
	if sums[0]+sums[1]+sums[2]+sums[3] != 4*(per*(per-1)/2) {
		fmt.Println("wrong sum")
		os.Exit(1)
	}
	fmt.Printf("RESULT buffered_ns_per_item %.1f ns\n", float64(el.Nanoseconds())/float64(4*per))
}
