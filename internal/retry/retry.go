// Package retry waits for a condition in tests with a bounded retry.
package retry

import (
	"testing"
	"time"
)

// Until calls fn every interval until it returns nil, and fails the test with
// fn's last error when timeout passes first.
func Until(tb testing.TB, interval, timeout time.Duration, fn func() error) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("not true after %v: %v", timeout, err)
		}
		time.Sleep(interval)
	}
}
