// Peer of bench/pread.c: 64 goroutines read a 256 MiB file with 64 KiB
// os.File.ReadAt calls at striped offsets (goroutine g reads blocks g,
// g+64, g+128, ... wrapping around), 2 GiB in all, page cache warm.
//
//	pread FILE [TOTAL_MIB [GOROUTINES]]
//
// FILE is made (256 MiB) if it is absent or has another size, then read
// once from start to end so that the timed reads hit the page cache.
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

const (
	fileSize = 256 << 20
	block    = 64 << 10
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pread:", err)
	os.Exit(1)
}

// makeFile writes the same bytes as bench/pread.c: block b is filled with
// the byte b*7+1.
func makeFile(path string) {
	if st, err := os.Stat(path); err == nil && st.Size() == fileSize {
		return
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	f, err := os.Create(tmp)
	if err != nil {
		fail(err)
	}
	buf := make([]byte, block)
	for b := 0; b < fileSize/block; b++ {
		for i := range buf {
			buf[i] = byte(b*7 + 1)
		}
		if _, err := f.Write(buf); err != nil {
			fail(err)
		}
	}
	if err := f.Close(); err != nil {
		fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		fail(err)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pread FILE [TOTAL_MIB [GOROUTINES]]")
		os.Exit(2)
	}
	path := os.Args[1]
	totalMiB, ng := 2048, 64
	if len(os.Args) > 2 {
		totalMiB, _ = strconv.Atoi(os.Args[2])
	}
	if len(os.Args) > 3 {
		ng, _ = strconv.Atoi(os.Args[3])
	}
	makeFile(path)
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	// warm the page cache: one sequential pass
	if _, err := io.Copy(io.Discard, f); err != nil {
		fail(err)
	}
	nblocks := fileSize / block
	per := (totalMiB << 20) / block / ng
	var wg sync.WaitGroup
	var bad int64
	var mu sync.Mutex
	t0 := time.Now()
	for g := 0; g < ng; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			buf := make([]byte, block)
			for k := 0; k < per; k++ {
				b := (g + ng*k) % nblocks
				n, err := f.ReadAt(buf, int64(b)*block)
				if n != block || err != nil || buf[0] != byte(b*7+1) {
					mu.Lock()
					bad++
					mu.Unlock()
				}
			}
		}(g)
	}
	wg.Wait()
	el := time.Since(t0)
	if bad != 0 {
		fmt.Fprintf(os.Stderr, "pread: %d short or wrong reads\n", bad)
		os.Exit(1)
	}
	bytes := float64(per * ng * block)
	fmt.Printf("RESULT pread_mib_per_s %.1f MiB/s\n", bytes/(1<<20)/el.Seconds())
	fmt.Printf("RESULT pread_ms %.1f ms\n", float64(el.Nanoseconds())/1e6)
}
