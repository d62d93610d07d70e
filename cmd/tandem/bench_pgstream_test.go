package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/tandemhq/tandem/internal/pgserver"
)

// streamingPair is PostgreSQL's own physical replication: a primary and a
// hot standby made with pg_basebackup -R, on loopback ports, both durable
// (fsync on) with synchronous_commit at its default (on) and no
// synchronous_standby_names, so a commit waits for the primary's WAL flush
// only and replication is asynchronous, as tandem's async mode is.
// Creates insert a row shaped like tandem's remittances into the primary; a
// poller on the standby sees rows become visible.
type streamingPair struct {
	primary, standby *sql.DB
	pause            time.Duration // between polls of the standby
	seq              atomic.Int64  // of the last row sent; rows are numbered 1, 2, …
	inserted         atomic.Int64

	mu      sync.Mutex
	samples []lagSample
	seen    int64
	polls   int64
	polling time.Duration
}

const streamingSchema = `
CREATE TABLE remittances (
	seq              BIGINT PRIMARY KEY,
	id               TEXT NOT NULL UNIQUE,
	sender_name      TEXT NOT NULL,
	sender_bank      TEXT NOT NULL,
	sender_account   TEXT NOT NULL,
	receiver_name    TEXT NOT NULL,
	receiver_bank    TEXT NOT NULL,
	receiver_account TEXT NOT NULL,
	amount           BIGINT NOT NULL CHECK (amount > 0),
	created_by       TEXT NOT NULL,
	created_us       BIGINT NOT NULL,
	updated_us       BIGINT NOT NULL,
	version          BIGINT NOT NULL
);
CREATE INDEX remittances_by_created ON remittances (created_us, id);
`

func openStreamingPair(b *testing.B, pause time.Duration) *streamingPair {
	ctx := context.Background()
	primary, err := pgserver.Start("", pgserver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(primary.Stop)
	dsn, err := primary.CreateDatabase(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	p := &streamingPair{pause: pause}
	if p.primary, err = sql.Open("pgx", dsn); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.primary.Close() })
	p.primary.SetMaxOpenConns(benchRemittanceWorkers)
	p.primary.SetMaxIdleConns(benchRemittanceWorkers)
	if _, err := p.primary.ExecContext(ctx, streamingSchema); err != nil {
		b.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "tandem-pg-standby-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := baseBackup(dir, primary.Port); err != nil {
		b.Fatal(err)
	}
	standby, err := pgserver.Start(dir, pgserver.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(standby.Stop) // runs before the primary's Stop
	if p.standby, err = sql.Open("pgx", standby.DSN("bench")); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.standby.Close() })
	var inRecovery bool
	if err := p.standby.QueryRowContext(ctx, `SELECT pg_is_in_recovery()`).Scan(&inRecovery); err != nil || !inRecovery {
		b.Fatalf("the standby on port %d is not in recovery (%v): pg_basebackup -R did not make a standby", standby.Port, err)
	}

	pollCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); p.poll(pollCtx, b) }()
	b.Cleanup(func() { cancel(); <-done })
	return p
}

// baseBackup copies the primary on port into dir and configures it as its
// standby (standby.signal and primary_conninfo). As root it runs as the
// user postgres, like the servers pgserver starts.
func baseBackup(dir string, port int) error {
	bin, err := pgserver.Binary("pg_basebackup")
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", pgserver.User, "-D", dir, "-R", "-c", "fast", "-X", "stream")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("pg_basebackup cannot run as root, and there is no user postgres: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_basebackup: %v\n%s", err, out)
	}
	return nil
}

// create inserts one row in its own transaction (autocommit); the primary
// stamps created_us with clock_timestamp() inside it, as tandem's stores
// stamp the commit time inside the write transaction.
func (p *streamingPair) create(ctx context.Context) error {
	seq := p.seq.Add(1)
	_, err := p.primary.ExecContext(ctx, `INSERT INTO remittances (seq, id, sender_name, sender_bank, sender_account,
	receiver_name, receiver_bank, receiver_account, amount, created_by, created_us, updated_us, version)
VALUES ($1, $2, 'Ana Souza', 'Banco Um', '0001-12345', 'Kenji Sato', 'Tokyo Bank', '987654321', $3, 'bench',
	(extract(epoch FROM clock_timestamp()) * 1000000)::bigint, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint, 1)`,
		seq, uuid.NewString(), 100+seq)
	if err == nil {
		p.inserted.Add(1)
	}
	return err
}

// poll reads the rows the standby shows that it had not shown before, over
// and over, with a short pause. A row became visible after the previous
// poll was sent and before the start (statement_timestamp()) of the first
// poll that shows it, so its lag lies between those minus its stamp: lag is
// the upper end, lagLow the lower.
func (p *streamingPair) poll(ctx context.Context, b *testing.B) {
	var low int64      // every seq ≤ low has been seen
	var prev time.Time // when the previous poll was sent
	seen := map[int64]bool{}
	started := time.Now()
	for ctx.Err() == nil {
		sent := time.Now()
		rows, err := p.standby.QueryContext(ctx, `SELECT seq, created_us, (extract(epoch FROM statement_timestamp()) * 1000000)::bigint
FROM remittances WHERE seq > $1`, low)
		if err != nil {
			if ctx.Err() == nil {
				b.Logf("poll the standby: %v", err)
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var fresh []lagSample
		for rows.Next() {
			var seq, created, visible int64
			if err := rows.Scan(&seq, &created, &visible); err != nil {
				b.Logf("poll the standby: %v", err)
				break
			}
			if seen[seq] {
				continue
			}
			seen[seq] = true
			c, v := time.UnixMicro(created), time.UnixMicro(visible)
			fresh = append(fresh, lagSample{committed: c, lag: v.Sub(c), lagLow: max(prev.Sub(c), time.Microsecond)})
		}
		rows.Close()
		prev = sent
		for seen[low+1] {
			delete(seen, low+1)
			low++
		}
		p.mu.Lock()
		p.samples = append(p.samples, fresh...)
		p.seen += int64(len(fresh))
		p.polls++
		p.polling = time.Since(started)
		p.mu.Unlock()
		if p.pause > 0 {
			time.Sleep(p.pause)
		}
	}
}

func (p *streamingPair) lags() []lagSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.samples)
}

func (p *streamingPair) waitCaughtUp(ctx context.Context) error {
	return waitFor(ctx, 60*time.Second, func() error {
		p.mu.Lock()
		seen := p.seen
		p.mu.Unlock()
		if want := p.inserted.Load(); seen != want {
			return fmt.Errorf("the standby shows %d rows, the primary committed %d", seen, want)
		}
		return nil
	})
}

func (p *streamingPair) note() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	every := time.Duration(0)
	if p.polls > 0 {
		every = p.polling / time.Duration(p.polls)
	}
	return fmt.Sprintf("lag is insert stamp (clock_timestamp() in the INSERT on the primary) → start of the first standby poll that shows the row (its statement_timestamp()), an upper bound; the lower bound is from the sending of the poll before it; one poll every %v on average", every.Round(time.Microsecond))
}
