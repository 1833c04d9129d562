// Peer of samples/http_server.c in bench/run http: Go net/http answering
// GET / with "Hello, World!\n" (keep-alive, as net/http does by default).
package main

import (
	"fmt"
	"net/http"
	"os"
)

var body = []byte("Hello, World!\n")

func main() {
	port := "8080"
	if len(os.Args) > 1 {
		port = os.Args[1]
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8") // what the sniffing would give, without the sniffing
		w.Write(body)
	})
	if err := http.ListenAndServe("127.0.0.1:"+port, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
