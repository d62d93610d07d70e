package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/auth"
	"github.com/tandemhq/tandem/httpapi"
	"github.com/tandemhq/tandem/remittance"
	"github.com/tandemhq/tandem/store/sqlite"
	"github.com/tandemhq/tandem/todo"
)

// appsFixture is a writer region serving the remittance and ToDo APIs over
// a real SQLite store, with a user, an admin and the runbooks it was asked
// to start.
type appsFixture struct {
	url         string
	store       *sqlite.Store
	identity    *auth.Service
	remittances *remittance.Service
	mu          sync.Mutex
	snap        tandem.Snapshot
	runbooks    []httpapi.RunbookRequest
	// user and admin are ID tokens, as the reference remittance UI sends.
	user, admin string
}

func newAppsFixture(tb testing.TB) *appsFixture {
	tb.Helper()
	ctx := context.Background()
	st := sqlite.New(filepath.Join(tb.TempDir(), "r.db"))
	st.Synchronous = "NORMAL"
	if err := st.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	if err := st.SetRole(ctx, tandem.Role{Writer: true, Epoch: 1}); err != nil {
		tb.Fatal(err)
	}
	f := &appsFixture{store: st, remittances: remittance.NewService(st), snap: tandem.Snapshot{Version: 1, AppID: "app-1", State: tandem.StateActive, Writer: writerName, Epoch: 1}}
	todos := todo.NewService(st)
	for _, m := range []func(context.Context) error{f.remittances.Migrate, todos.Migrate} {
		if err := m(ctx); err != nil {
			tb.Fatal(err)
		}
	}
	f.identity = newIdentity(tb, st, writerName)
	f.user = mustSignIn(tb, f.identity, "jerome", auth.RoleUser).IDToken
	f.admin = mustSignIn(tb, f.identity, "boss", auth.RoleAdmin).IDToken
	api := &httpapi.Server{
		Region:      writerName,
		Identity:    f.identity,
		Remittances: f.remittances,
		ToDos:       todos,
		Snapshot:    f.snapshot,
		CheckWrite:  func(context.Context) error { return f.snapshot().CheckWrite(writerName) },
		StartRunbook: func(_ context.Context, req httpapi.RunbookRequest) (any, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.runbooks = append(f.runbooks, req)
			return map[string]string{"id": "rb-1", "kind": req.Kind, "status": "running"}, nil
		},
		Secret: secret,
	}
	srv := httptest.NewServer(api)
	tb.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *appsFixture) snapshot() tandem.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.snap
}

func (f *appsFixture) setState(s tandem.AppState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap.State = s
}

// head is the store's changelog head.
func (f *appsFixture) head(tb testing.TB) uint64 {
	tb.Helper()
	p, err := f.store.Position(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return p.LSN
}

// call sends body (a string of JSON, or any value to marshal) to a
// /remittance path with token as the bare Authorization header.
func (f *appsFixture) call(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	s, ok := body.(string)
	if !ok && body != nil {
		b, _ := json.Marshal(body)
		s = string(b)
	}
	h := []string{"Content-Type", jsonType}
	if token != "" {
		h = append(h, "Authorization", token)
	}
	return send(t, method, f.url+path, s, h...)
}

func sampleRemittance(amount int64) map[string]any {
	return map[string]any{
		"senderName": "Ana Souza", "senderBank": "Banco Um", "senderAccount": "0001-12345",
		"receiverName": "Kenji Sato", "receiverBank": "Tokyo Bank", "receiverAccount": "987654321",
		"amount": amount,
	}
}

func (f *appsFixture) create(t *testing.T, amount int64) tandem.Remittance {
	t.Helper()
	r := f.call(t, "POST", "/remittance/create-remittance", f.user, sampleRemittance(amount))
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var rem tandem.Remittance
	r.decode(t, &rem)
	return rem
}

func (f *appsFixture) list(t *testing.T) []tandem.Remittance {
	t.Helper()
	r := f.call(t, "GET", "/remittance/get-remittances", "Bearer "+f.user, nil)
	if r.status != 200 {
		t.Fatalf("get-remittances: %d %s", r.status, r.body)
	}
	var rems []tandem.Remittance
	r.decode(t, &rems)
	return rems
}

func withFields(rem tandem.Remittance, amount int64) map[string]any {
	m := sampleRemittance(amount)
	m["id"], m["version"] = rem.ID, rem.Version
	return m
}

func TestRemittanceCRUD(t *testing.T) {
	f := newAppsFixture(t)
	if r := f.call(t, "GET", "/remittance/get-remittances", f.user, nil); r.status != 200 || r.body != "[]" {
		t.Fatalf("empty list: %d %s", r.status, r.body)
	}
	a := f.create(t, 250)
	if a.ID == "" || a.Version != 1 || a.Amount != 250 || a.CreatedBy != "jerome" || a.SenderName != "Ana Souza" || a.CreationTimestamp.IsZero() {
		t.Fatalf("created %+v", a)
	}
	b := f.create(t, 99)
	if got := f.list(t); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("list = %+v, want %+v and %+v", got, a, b)
	}

	r := f.call(t, "POST", "/remittance/update-remittance", f.user, withFields(a, 300))
	var up tandem.Remittance
	r.decode(t, &up)
	if r.status != 200 || up.Version != 2 || up.Amount != 300 || up.ID != a.ID || !up.CreationTimestamp.Equal(a.CreationTimestamp) {
		t.Fatalf("update: %d %s", r.status, r.body)
	}
	// The same update again is based on a version that is gone.
	if r := f.call(t, "POST", "/remittance/update-remittance", f.user, withFields(a, 400)); r.status != 409 || !strings.Contains(r.body, "version 2, not 1") {
		t.Fatalf("stale update: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/remittance/update-remittance", f.user, withFields(tandem.Remittance{ID: "nope", Version: 1}, 1)); r.status != 404 {
		t.Fatalf("update of an unknown id: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/remittance/delete-remittance", f.user, map[string]any{"id": a.ID, "version": 1}); r.status != 409 {
		t.Fatalf("delete at a stale version: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/remittance/delete-remittance", f.user, map[string]any{"id": a.ID}); r.status != 200 || r.body != `{"id":"`+a.ID+`"}` {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/remittance/delete-remittance", f.user, map[string]any{"id": a.ID}); r.status != 404 {
		t.Fatalf("delete twice: %d %s", r.status, r.body)
	}
	if got := f.list(t); len(got) != 1 || got[0] != b {
		t.Fatalf("after delete: %+v", got)
	}

	// Clearing every remittance is for admins only.
	if r := f.call(t, "POST", "/remittance/clear-remittances", f.user, nil); r.status != 403 {
		t.Fatalf("clear by a user: %d %s", r.status, r.body)
	}
	f.create(t, 5)
	if r := f.call(t, "POST", "/remittance/clear-remittances", f.admin, nil); r.status != 200 || r.body != `{"deleted":2}` {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
	if got := f.list(t); len(got) != 0 {
		t.Fatalf("after clear: %+v", got)
	}
}

func TestRemittanceValidation(t *testing.T) {
	f := newAppsFixture(t)
	rem := f.create(t, 10)
	base := f.head(t)
	long := strings.Repeat("x", 101)
	type body = map[string]any
	with := func(field string, v any) body {
		m := sampleRemittance(10)
		if v == nil {
			delete(m, field)
		} else {
			m[field] = v
		}
		return m
	}
	type check struct {
		name     string
		body     any
		status   int
		contains string
	}
	cases := []check{
		{"malformed json", `{"senderName":`, 400, "not valid JSON"},
		{"empty body", ``, 400, "empty"},
		{"array", `[]`, 400, ""},
		{"amount as a fraction", with("amount", 10.5), 400, "amount must be an integer greater than 0"},
		{"amount zero", with("amount", 0), 400, "amount must be an integer"},
		{"amount negative", with("amount", -3), 400, "amount must be an integer"},
		{"amount text", with("amount", "ten"), 400, "amount must be an integer"},
		{"amount exponent", with("amount", json.RawMessage("1e3")), 400, "amount must be an integer"},
		{"amount overflow", with("amount", json.RawMessage("9223372036854775808")), 400, "amount must be an integer"},
		{"amount boolean", with("amount", true), 400, "amount must be an integer"},
		{"amount missing", with("amount", nil), 400, "missing field: amount"},
		{"wrong type", with("senderName", 7), 400, "senderName"},
	}
	for _, field := range []string{"senderName", "senderBank", "senderAccount", "receiverName", "receiverBank", "receiverAccount"} {
		cases = append(cases,
			check{field + " missing", with(field, nil), 400, "missing field: " + field},
			check{field + " blank", with(field, "   "), 400, "missing field: " + field},
			check{field + " too long", with(field, long), 400, field + " must be 1 to 100 characters"},
			check{field + " control character", with(field, "a\x00b"), 400, field + " must not contain control characters"},
		)
	}
	for _, path := range []string{"/remittance/create-remittance", "/remittance/update-remittance"} {
		for _, tc := range cases {
			if m, ok := tc.body.(body); ok && path == "/remittance/update-remittance" {
				m["id"], m["version"] = rem.ID, rem.Version
			}
			r := f.call(t, "POST", path, f.user, tc.body)
			if r.status != tc.status || !strings.Contains(r.body, tc.contains) || !strings.HasPrefix(r.body, `{"message":`) {
				t.Errorf("%s %s: %d %s, want %d with %q", path, tc.name, r.status, r.body, tc.status, tc.contains)
			}
		}
	}
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		contains                  string
	}{
		{"update without version", "POST", "/remittance/update-remittance", f.user, withFields(tandem.Remittance{ID: rem.ID}, 10), 400, "missing field: version"},
		{"update without id", "POST", "/remittance/update-remittance", f.user, withFields(tandem.Remittance{Version: 1}, 10), 400, "missing field: id"},
		{"delete without id", "POST", "/remittance/delete-remittance", f.user, `{}`, 400, "missing field: id"},
		{"no token", "POST", "/remittance/create-remittance", "", sampleRemittance(1), 401, "sign-in required"},
		{"bad token", "POST", "/remittance/create-remittance", "Bearer nonsense", sampleRemittance(1), 401, ""},
		{"no token to read", "GET", "/remittance/get-remittances", "", nil, 401, ""},
		{"wrong method", "PUT", "/remittance/create-remittance", f.user, sampleRemittance(1), 405, ""},
	} {
		r := f.call(t, tc.method, tc.path, tc.token, tc.body)
		if r.status != tc.status || !strings.Contains(r.body, tc.contains) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, r.status, r.body, tc.status, tc.contains)
		}
	}
	if got := f.head(t); got != base {
		t.Fatalf("rejected requests wrote %d changelog entries", got-base)
	}

	// At the limits: 100 characters (not bytes) and a string amount; the
	// creator and creation time are the server's, whatever the body says.
	m := sampleRemittance(0)
	m["senderName"], m["amount"] = strings.Repeat("é", 100), "42"
	m["createdBy"], m["creationTimestamp"] = "mallory", "yesterday"
	r := f.call(t, "POST", "/remittance/create-remittance", f.user, m)
	var got tandem.Remittance
	r.decode(t, &got)
	if r.status != 201 || got.Amount != 42 || got.SenderName != m["senderName"] || got.CreatedBy != "jerome" || got.CreationTimestamp.Before(rem.CreationTimestamp) {
		t.Fatalf("at the limits: %d %s", r.status, r.body)
	}
}

// TestConcurrentRemittanceUpdates updates one remittance from many clients
// at once: of the updates based on the same version exactly one wins and
// the others get 409; clients that read again and retry on 409 lose no
// update.
func TestConcurrentRemittanceUpdates(t *testing.T) {
	f := newAppsFixture(t)
	rem := f.create(t, 1000)
	const clients = 8

	statuses := make([]int, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			statuses[i] = f.call(t, "POST", "/remittance/update-remittance", f.user, withFields(rem, int64(2000+i))).status
		})
	}
	wg.Wait()
	won := -1
	for i, s := range statuses {
		switch {
		case s == 200 && won < 0:
			won = i
		case s != 409:
			t.Fatalf("statuses %v: want one 200 and the rest 409", statuses)
		}
	}
	if won < 0 {
		t.Fatalf("statuses %v: no update won", statuses)
	}
	got, err := f.remittances.FindRemittanceByID(context.Background(), rem.ID)
	if err != nil || got.Amount != int64(2000+won) || got.Version != 2 {
		t.Fatalf("after the race: %+v, %v; want the winner's amount %d at version 2", got, err, 2000+won)
	}

	// Read, add one, write; again on 409. Every increment must land.
	const increments = 5
	for range clients {
		wg.Go(func() {
			for done := 0; done < increments; {
				cur, err := f.remittances.FindRemittanceByID(context.Background(), rem.ID)
				if err != nil {
					t.Error(err)
					return
				}
				switch s := f.call(t, "POST", "/remittance/update-remittance", f.user, withFields(cur, cur.Amount+1)).status; s {
				case 200:
					done++
				case 409:
				default:
					t.Errorf("increment: %d", s)
					return
				}
			}
		})
	}
	wg.Wait()
	final, _ := f.remittances.FindRemittanceByID(context.Background(), rem.ID)
	if want := got.Amount + clients*increments; final.Amount != want || final.Version != got.Version+clients*increments {
		t.Fatalf("after %d increments: amount %d version %d, want %d and %d", clients*increments, final.Amount, final.Version, want, got.Version+clients*increments)
	}
}

func TestRemittanceWritesRefusedWhenFenced(t *testing.T) {
	f := newAppsFixture(t)
	rem := f.create(t, 10)
	f.setState(tandem.StateFenced)
	base := f.head(t)
	want := `{"message":"` + httpapi.FencedRemittanceMessage + `"}`
	for path, body := range map[string]any{
		"/remittance/create-remittance": sampleRemittance(1),
		"/remittance/update-remittance": withFields(rem, 11),
		"/remittance/delete-remittance": map[string]string{"id": rem.ID},
		"/remittance/clear-remittances": nil,
	} {
		token := f.user
		if strings.HasSuffix(path, "clear-remittances") {
			token = f.admin
		}
		r := f.call(t, "POST", path, token, body)
		if r.status != 503 || r.body != want || r.header.Get("Retry-After") == "" {
			t.Errorf("%s fenced: %d %s", path, r.status, r.body)
		}
	}
	if got := f.list(t); len(got) != 1 || got[0] != rem {
		t.Fatalf("reads while fenced: %+v", got)
	}
	if f.head(t) != base {
		t.Fatal("refused writes wrote entries")
	}
}

func TestExecuteRunbookNeedsAdmin(t *testing.T) {
	f := newAppsFixture(t)
	body := map[string]any{"kind": "Failover", "target": standbyName}
	if r := f.call(t, "POST", "/remittance/execute-runbook", f.user, body); r.status != 403 {
		t.Fatalf("a user runs a runbook: %d %s", r.status, r.body)
	}
	if r := f.call(t, "POST", "/remittance/execute-runbook", f.admin, map[string]string{"kind": "reboot"}); r.status != 400 || !strings.Contains(r.body, "switchover, failover or failback") {
		t.Fatalf("unknown kind: %d %s", r.status, r.body)
	}
	r := f.call(t, "POST", "/remittance/execute-runbook", "Bearer "+f.admin, body)
	if r.status != 202 || !strings.Contains(r.body, `"kind":"failover"`) {
		t.Fatalf("admin runs a runbook: %d %s", r.status, r.body)
	}
	if want := (httpapi.RunbookRequest{Kind: "failover", Target: standbyName}); len(f.runbooks) != 1 || f.runbooks[0] != want {
		t.Fatalf("controller asked %+v, want %+v", f.runbooks, want)
	}

	// Without a way to the controller, the region says what to do instead.
	api := &httpapi.Server{Region: writerName, Identity: f.identity, Remittances: f.remittances, Secret: secret}
	srv := httptest.NewServer(api)
	defer srv.Close()
	r = send(t, "POST", srv.URL+"/remittance/execute-runbook", `{"kind":"failover"}`, "Authorization", f.admin, "Content-Type", jsonType)
	if r.status != 501 || !strings.Contains(r.body, "tandem failover") {
		t.Fatalf("no controller: %d %s", r.status, r.body)
	}
}

// mustCount returns the rows of a table.
func (f *appsFixture) mustCount(tb testing.TB, table string) int {
	tb.Helper()
	var n int
	err := f.store.View(context.Background(), func(tx tandem.Tx) error {
		return tx.QueryRow(context.Background(), fmt.Sprintf("SELECT count(*) FROM %s", table)).Scan(&n)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}
