package auth

import (
	"fmt"
	"testing"
	"time"
)

// clock is a fake clock for Throttle tests.
type clock struct{ now time.Time }

func (c *clock) advance(d time.Duration) { c.now = c.now.Add(d) }

func assertAllow(tb testing.TB, th *Throttle, user, ip string, now time.Time, wantWait time.Duration) {
	tb.Helper()
	wait, ok := th.Allow(user, ip, now)
	if wait != wantWait || ok != (wantWait == 0) {
		tb.Fatalf("Allow(%q, %q) = %v, %v; want %v, %v", user, ip, wait, ok, wantWait, wantWait == 0)
	}
}

func TestThrottle_UserBackoff(t *testing.T) {
	th := NewThrottle()
	c := &clock{now: testNow}
	for i := range DefaultFreeAttempts {
		assertAllow(t, th, "alice", "10.0.0.1", c.now, 0)
		th.Failure("alice", fmt.Sprintf("10.0.0.%d", i), c.now)
	}
	// Past the free attempts the delay doubles from 1s, from any IP.
	for _, d := range []time.Duration{1, 2, 4, 8, 16} {
		d *= time.Second
		assertAllow(t, th, "alice", "10.0.1.1", c.now, d)
		c.advance(d / 2)
		assertAllow(t, th, "alice", "10.0.1.1", c.now, d-d/2)
		c.advance(d - d/2)
		assertAllow(t, th, "alice", "10.0.1.1", c.now, 0)
		th.Failure("alice", "10.0.1.1", c.now)
	}
	// Other users are not slowed down.
	assertAllow(t, th, "bob", "10.0.2.1", c.now, 0)
	// Case does not escape the count.
	assertAllow(t, th, "ALICE", "10.0.2.1", c.now, 32*time.Second)

	// The delay stops growing at MaxDelay.
	for range 20 {
		c.advance(DefaultMaxDelay)
		th.Failure("alice", "", c.now)
	}
	assertAllow(t, th, "alice", "", c.now, DefaultMaxDelay)

	// A success clears the user's count.
	th.Success("alice", "10.0.1.1")
	assertAllow(t, th, "alice", "", c.now, 0)
}

func TestThrottle_IP(t *testing.T) {
	th := NewThrottle()
	c := &clock{now: testNow}
	// Password spraying: one guess per user from one IP.
	for i := range DefaultIPFreeAttempts {
		assertAllow(t, th, fmt.Sprintf("user%d", i), "192.0.2.7", c.now, 0)
		th.Failure(fmt.Sprintf("user%d", i), "192.0.2.7", c.now)
	}
	assertAllow(t, th, "fresh", "192.0.2.7", c.now, time.Second)
	assertAllow(t, th, "fresh", "192.0.2.8", c.now, 0)

	// Signing in to one's own account does not reset the IP's count.
	th.Success("mallory", "192.0.2.7")
	assertAllow(t, th, "mallory", "192.0.2.7", c.now, time.Second)

	// Counts are forgotten Expiry after the last failure.
	c.advance(DefaultThrottleExpiry)
	assertAllow(t, th, "fresh", "192.0.2.7", c.now, 0)
	th.Failure("fresh", "192.0.2.7", c.now)
	assertAllow(t, th, "fresh", "192.0.2.7", c.now, 0)
}

func TestThrottle_Bounded(t *testing.T) {
	th := NewThrottle()
	th.MaxEntries = 4
	th.FreeAttempts = 0
	c := &clock{now: testNow}
	for i := range 10 {
		th.Failure(fmt.Sprintf("user%d", i), "", c.now)
		c.advance(time.Millisecond)
		if got := th.Len(); got > th.MaxEntries {
			t.Fatalf("Len = %d, want at most %d", got, th.MaxEntries)
		}
	}
	// The oldest were dropped, the newest kept.
	assertAllow(t, th, "user0", "", c.now, 0)
	if _, ok := th.Allow("user9", "", c.now); ok {
		t.Fatal("newest count was dropped")
	}
}

func TestThrottle_ExpiredDroppedFirst(t *testing.T) {
	th := NewThrottle()
	c := &clock{now: testNow}
	for i := range 100 {
		th.Failure(fmt.Sprintf("user%d", i), "", c.now)
	}
	c.advance(DefaultThrottleExpiry + time.Second)
	th.Failure("late", "", c.now)
	if got, want := th.Len(), 1; got != want {
		t.Fatalf("Len = %d, want %d", got, want)
	}
}

func TestThrottle_Empty(t *testing.T) {
	th := NewThrottle()
	th.Success("nobody", "")
	assertAllow(t, th, "", "", testNow, 0)
	th.Failure("", "", testNow)
	if got := th.Len(); got != 0 {
		t.Fatalf("Len = %d, want 0", got)
	}
}

func TestThrottle_Concurrent(t *testing.T) {
	th := NewThrottle()
	th.MaxEntries = 50
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 500 {
				user, ip := fmt.Sprintf("user%d", i%70), fmt.Sprintf("10.0.%d.%d", g, i%13)
				now := testNow.Add(time.Duration(i) * time.Second)
				th.Allow(user, ip, now)
				th.Failure(user, ip, now)
				if i%7 == 0 {
					th.Success(user, ip)
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got := th.Len(); got > th.MaxEntries {
		t.Fatalf("Len = %d, want at most %d", got, th.MaxEntries)
	}
}
