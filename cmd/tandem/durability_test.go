package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/tandemhq/tandem/internal/retry"
)

// waitFollowing waits until the standby has confirmed the writer's head.
func waitFollowing(t *testing.T, c *cluster) {
	t.Helper()
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		w := c.regions["us-east-1"]
		acked, _ := w.acks.Applied()
		if head := w.head.Load(); acked < head || head == 0 {
			return fmt.Errorf("standby confirmed %d of %d", acked, head)
		}
		return nil
	})
}

// TestMaxLag: with the standby gone, the writer takes max_lag more writes
// and then refuses them until the standby is back.
func TestMaxLag(t *testing.T) {
	c := startCluster(t, time.Second, func(rc *RegionConfig) { rc.Replication.MaxLag = 5 })
	url := c.regions["us-east-1"].Config.URL
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		if !probeWrite(url, "first") {
			return fmt.Errorf("writer not writable yet")
		}
		return nil
	})
	waitFollowing(t, c)
	c.regions["ap-northeast-1"].Close()
	delete(c.regions, "ap-northeast-1")
	accepted := 0
	for i := range 20 {
		if probeWrite(url, fmt.Sprintf("w%d", i)) {
			accepted++
		}
	}
	if accepted != 5 {
		t.Fatalf("with the standby gone the writer accepted %d writes, want max_lag = 5", accepted)
	}
}

// TestSyncFallsBackToAsync: with on_sync_timeout: async, a write the
// standby does not confirm in time is acknowledged after sync_timeout and
// replication degrades to async, so later writes do not wait.
func TestSyncFallsBackToAsync(t *testing.T) {
	c := startCluster(t, time.Second, func(rc *RegionConfig) {
		rc.Replication = ReplicationConfig{Mode: "sync", SyncTimeout: 300 * time.Millisecond, OnSyncTimeout: "async"}
	})
	w := c.regions["us-east-1"]
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		if !probeWrite(w.Config.URL, "first") {
			return fmt.Errorf("writer not writable yet")
		}
		return nil
	})
	waitFollowing(t, c)
	// Writes made before the standby connected (the signing key, say) may
	// have degraded replication; the next confirmed write restores sync.
	retry.Until(t, 10*time.Millisecond, 10*time.Second, func() error {
		if !probeWrite(w.Config.URL, fmt.Sprintf("sync-%d", time.Now().UnixNano())) || w.degraded.Load() {
			return fmt.Errorf("still degraded while the standby confirms writes")
		}
		return nil
	})
	c.regions["ap-northeast-1"].Close()
	delete(c.regions, "ap-northeast-1")
	if !probeWrite(w.Config.URL, "unconfirmed") {
		t.Fatal("with on_sync_timeout: async an unconfirmed write was refused")
	}
	if !w.degraded.Load() {
		t.Fatal("replication did not degrade to async")
	}
	for i := range 10 {
		if !probeWrite(w.Config.URL, fmt.Sprintf("async-%d", i)) {
			t.Fatalf("degraded write %d refused", i)
		}
	}
	if d := w.durability(); !d.Degraded || d.Mode != "sync" {
		t.Fatalf("durability status %+v", d)
	}
}
