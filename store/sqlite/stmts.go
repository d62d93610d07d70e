package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"
)

// maxCachedStmts bounds a stmtCache: the statements an application runs are
// a fixed set, plus one insert, update and delete per replicated table.
const maxCachedStmts = 512

// stmtCache keeps prepared the statements a database handle runs, so a
// statement run again is not parsed again, nor its triggers compiled:
// profiles under load showed parsing take a quarter of the writer's CPU
// and of the standby's. A statement is prepared on the handle only after
// the transaction that first ran it has ended (see prepareNoted), because
// preparing takes a connection and the writer's handle has one, which that
// transaction holds. Transactions then bind it with Tx.StmtContext, which
// reuses what the connection has prepared.
type stmtCache struct {
	db *sql.DB

	mu    sync.Mutex
	stmts map[string]*sql.Stmt
	noted map[string]bool // run by a transaction, not prepared yet
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, noted: map[string]bool{}}
}

// bind returns q prepared for tx, or nil when it is not prepared yet; then
// it notes q, if q is a statement worth keeping.
func (c *stmtCache) bind(ctx context.Context, tx *sql.Tx, q string) *sql.Stmt {
	c.mu.Lock()
	st := c.stmts[q]
	if st == nil && len(c.stmts)+len(c.noted) < maxCachedStmts && cacheable(q) {
		c.noted[q] = true
	}
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	return tx.StmtContext(ctx, st)
}

// cacheable reports whether q reads or changes rows (schema statements are
// run once).
func cacheable(q string) bool {
	q = strings.TrimSpace(q)
	if len(q) < 6 {
		return false
	}
	switch strings.ToUpper(q[:6]) {
	case "SELECT", "INSERT", "UPDATE", "DELETE":
		return true
	}
	return false
}

// prepareNoted prepares the statements noted since the last call. Call it
// when no transaction of the caller is open on the handle.
func (c *stmtCache) prepareNoted(ctx context.Context) {
	c.mu.Lock()
	if len(c.noted) == 0 {
		c.mu.Unlock()
		return
	}
	noted := c.noted
	c.noted = map[string]bool{}
	c.mu.Unlock()
	for q := range noted {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue // run unprepared, as before
		}
		c.mu.Lock()
		if c.stmts[q] == nil {
			c.stmts[q], st = st, nil
		}
		c.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// prepared returns q prepared on the handle, preparing it now if need be,
// or nil when the cache is full or q cannot be prepared: then run q
// unprepared. For statements run on the handle outside a transaction, on a
// handle with connections to spare (the readers'); database/sql gives each
// concurrent use its own connection.
func (c *stmtCache) prepared(ctx context.Context, q string) *sql.Stmt {
	c.mu.Lock()
	st, full := c.stmts[q], len(c.stmts) >= maxCachedStmts
	c.mu.Unlock()
	if st != nil || full {
		return st
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have := c.stmts[q]; have != nil {
		st.Close()
		return have
	}
	c.stmts[q] = st
	return st
}

// QueryRowContext runs q prepared, outside a transaction: the stmtCache of
// the readers' handle is what sqlstore reads positions and roles with.
func (c *stmtCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := c.prepared(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.db.QueryRowContext(ctx, q, args...)
}

// close closes every prepared statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q, st := range c.stmts {
		st.Close()
		delete(c.stmts, q)
	}
}

// sqlTx adapts *sql.Tx to tandem.Tx, running statements prepared when the
// cache has them.
type sqlTx struct {
	tx    *sql.Tx
	stmts *stmtCache
}

func (t sqlTx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmts.bind(ctx, t.tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// Query runs q unprepared: within a transaction every use of a prepared
// statement shares one SQLite statement, so the same query run again while
// the rows of the first are open would reset them under the caller.
func (t sqlTx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, q, args...)
}

// QueryRow runs q prepared: Scan reads its one row and closes it.
func (t sqlTx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmts.bind(ctx, t.tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// QueryRowContext and Commit make sqlTx what the shared code in sqlstore
// reads the head with and commits.
func (t sqlTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.QueryRow(ctx, q, args...)
}

func (t sqlTx) Commit() error { return t.tx.Commit() }
