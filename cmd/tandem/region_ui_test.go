package main

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tandemhq/tandem/httpapi"
)

// TestRegionControlPassLoop: a region whose controller URL leads back to a
// region answers 508 instead of passing the request round forever.
func TestRegionControlPassLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &Region{Config: RegionConfig{Name: "us-east-1", Controller: "http://" + ln.Addr().String()}, Logger: slog.Default(), api: &httpapi.Server{}}
	h, err := g.handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/control/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusLoopDetected || !strings.Contains(string(body), "leads back to a region") {
		t.Fatalf("a loop: %d %s", resp.StatusCode, body)
	}
}
