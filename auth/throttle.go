package auth

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// Throttle defaults.
const (
	DefaultFreeAttempts   = 5
	DefaultIPFreeAttempts = 20
	DefaultBaseDelay      = time.Second
	DefaultMaxDelay       = 15 * time.Minute
	DefaultThrottleExpiry = 24 * time.Hour
	DefaultMaxEntries     = 100_000
)

// Throttle slows down password guessing. It counts failed sign-ins per
// username and per client IP; past the free attempts, each further attempt
// must wait a delay that doubles from BaseDelay up to MaxDelay after the last
// failure. Allow reports the longer of the two waits.
//
// A success clears the username's count but not the IP's: otherwise an
// attacker holding one real account could sign in to it between guesses at
// other users' passwords and never slow down. An IP's count is forgotten
// Expiry after its last failure instead, which is also why an IP gets more free
// attempts than a username: many users may share one address.
//
// Counts live in memory, one Throttle per process, so each region throttles
// on its own. At most MaxEntries counts are kept; when full, the one whose
// last failure is oldest is dropped.
//
// Create one with NewThrottle; its fields must not change once in use. A
// Throttle is safe for concurrent use.
type Throttle struct {
	FreeAttempts   int // failures per username before any delay
	IPFreeAttempts int // failures per IP before any delay
	BaseDelay      time.Duration
	MaxDelay       time.Duration
	Expiry         time.Duration // a count is forgotten this long after its last failure
	MaxEntries     int

	mu      sync.Mutex
	entries map[string]*list.Element // of *throttleEntry
	order   *list.List               // oldest last failure at the front
}

type throttleEntry struct {
	key         string
	failures    int
	lastFailure time.Time
}

// NewThrottle returns a Throttle with the default limits.
func NewThrottle() *Throttle {
	return &Throttle{
		FreeAttempts:   DefaultFreeAttempts,
		IPFreeAttempts: DefaultIPFreeAttempts,
		BaseDelay:      DefaultBaseDelay,
		MaxDelay:       DefaultMaxDelay,
		Expiry:         DefaultThrottleExpiry,
		MaxEntries:     DefaultMaxEntries,
	}
}

// Allow reports whether a sign-in for user from ip may be tried at now, and
// if not how long to wait. An empty user or ip is not counted.
func (t *Throttle) Allow(user, ip string, now time.Time) (wait time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if user != "" {
		wait = max(wait, t.wait(userKey(user), t.FreeAttempts, now))
	}
	if ip != "" {
		wait = max(wait, t.wait(ipKey(ip), t.IPFreeAttempts, now))
	}
	return wait, wait == 0
}

// Failure records a failed sign-in for user from ip at now.
func (t *Throttle) Failure(user, ip string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if user != "" {
		t.fail(userKey(user), now)
	}
	if ip != "" {
		t.fail(ipKey(ip), now)
	}
}

// Success records a successful sign-in: it clears user's count. The IP's
// count stays; see Throttle.
func (t *Throttle) Success(user, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.entries[userKey(user)]; ok {
		t.remove(e)
	}
}

// Len returns the number of counts held, for metrics and tests.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// userKey folds case so that "Alice" and "alice" share a count whether or
// not the user store treats them alike.
func userKey(user string) string { return "u:" + strings.ToLower(user) }
func ipKey(ip string) string     { return "ip:" + ip }

func (t *Throttle) wait(key string, free int, now time.Time) time.Duration {
	el, ok := t.entries[key]
	if !ok {
		return 0
	}
	e := el.Value.(*throttleEntry)
	if t.expired(e, now) {
		t.remove(el)
		return 0
	}
	if e.failures < free {
		return 0
	}
	return max(0, e.lastFailure.Add(t.delay(e.failures-free)).Sub(now))
}

// delay returns BaseDelay doubled n times, capped at MaxDelay.
func (t *Throttle) delay(n int) time.Duration {
	d := t.BaseDelay
	for ; n > 0 && d < t.MaxDelay; n-- {
		d *= 2
	}
	return min(d, t.MaxDelay)
}

func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	return now.Sub(e.lastFailure) >= t.Expiry
}

func (t *Throttle) fail(key string, now time.Time) {
	if t.entries == nil {
		t.entries = make(map[string]*list.Element)
		t.order = list.New()
	}
	if el, ok := t.entries[key]; ok {
		e := el.Value.(*throttleEntry)
		if t.expired(e, now) {
			e.failures = 0
		}
		e.failures++
		e.lastFailure = now
		t.order.MoveToBack(el)
		return
	}
	t.evict(now)
	e := &throttleEntry{key: key, failures: 1, lastFailure: now}
	t.entries[key] = t.order.PushBack(e)
}

// evict drops expired counts from the front of the order, then the oldest
// ones while the map is full. The order follows calls to Failure, so a clock
// that goes back may leave an expired count behind a live one until later.
func (t *Throttle) evict(now time.Time) {
	for el := t.order.Front(); el != nil && t.expired(el.Value.(*throttleEntry), now); el = t.order.Front() {
		t.remove(el)
	}
	for t.order.Len() > 0 && t.order.Len() >= max(t.MaxEntries, 1) {
		t.remove(t.order.Front())
	}
}

func (t *Throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.order.Remove(el)
}
