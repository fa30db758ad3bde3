// main.go: the Go program that wrote cpu.pb.gz and heap.pb.gz here with
// runtime/pprof (go 1.19), so tests read profiles written by another tool.
package main

import (
	"os"
	"runtime/pprof"
	"time"
)

var sink int

//go:noinline
func spin(n int) {
	for i := 0; i < n; i++ {
		sink += i * i
	}
}

func main() {
	f, _ := os.Create("cpu.pb.gz")
	pprof.StartCPUProfile(f)
	end := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(end) {
		spin(100000)
	}
	pprof.StopCPUProfile()
	f.Close()
	h, _ := os.Create("heap.pb.gz")
	pprof.WriteHeapProfile(h)
	h.Close()
}
