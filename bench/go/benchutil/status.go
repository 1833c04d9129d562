// Package benchutil holds what several Go peers of the C benchmarks share.
package benchutil

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// StatusBytes returns a /proc/self/status field (VmRSS, VmPTE, VmHWM, ...)
// in bytes, or -1; field includes the colon ("VmRSS:").
func StatusBytes(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if strings.HasPrefix(s.Text(), field) {
			kb, _ := strconv.ParseInt(strings.Fields(s.Text())[1], 10, 64)
			return kb * 1024
		}
	}
	return -1
}
