package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/httpapi"
)

// clientToken creates an OAuth client with the ToDo write scope through the
// admin API and gets a token for it from /todo/oauth2/token, as the
// reference curl does.
func (f *appsFixture) clientToken(t *testing.T) string {
	t.Helper()
	return f.clientTokenWithScope(t, httpapi.ToDoWriteScope)
}

// clientTokenWithScope creates an OAuth client with scope (space-separated)
// and gets a token for it from /todo/oauth2/token.
func (f *appsFixture) clientTokenWithScope(t *testing.T, scope string) string {
	t.Helper()
	r := postJSON(t, f.url+"/api/admin/clients", httpapi.NewClientRequest{Name: "todo", Scope: scope}, bearer(secret)...)
	if r.status != 201 {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	var created httpapi.ClientResponse
	r.decode(t, &created)
	basic := base64.StdEncoding.EncodeToString([]byte(created.Client.ID + ":" + created.ClientSecret))
	r = send(t, "POST", f.url+"/todo/oauth2/token", "grant_type=client_credentials",
		"Authorization", "Basic "+basic, "Content-Type", formType, "Cookie", "XSRF-TOKEN=4b3f34f0-82b1-458f-8ce6-22eecfc46361")
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	r.decode(t, &tok)
	if r.status != 200 || tok.AccessToken == "" || tok.TokenType != "Bearer" || tok.ExpiresIn != 3600 {
		t.Fatalf("token: %d %s", r.status, r.body)
	}
	return tok.AccessToken
}

// TestToDoReferenceCurl runs the reference ToDo API's curl commands (token,
// create twice, get, update, delete) with their exact bodies, the token sent
// without "Bearer" as they send it.
func TestToDoReferenceCurl(t *testing.T) {
	f := newAppsFixture(t)
	token := f.clientToken(t)
	curl := func(method, path, body string) reply {
		t.Helper()
		return send(t, method, f.url+"/todo"+path, body, "Authorization", token, "Content-Type", jsonType)
	}
	for _, step := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"POST", "/v1", `{ "task": "Sample Task new", "status": "wip" }`, 200, `{"status":"ok","response":{"id":1,"task":"Sample Task new","status":"wip"}}`},
		{"POST", "/v1", `{ "task": "Sample Task new for failover", "status": "wip" }`, 200, `{"status":"ok","response":{"id":2,"task":"Sample Task new for failover","status":"wip"}}`},
		{"GET", "/v1?id=1", ``, 200, `{"status":"ok","response":[{"id":1,"task":"Sample Task new","status":"wip"}]}`},
		{"POST", "/v1", "{ \"id\": \"2\", \"task\": \"Sample Task Updated\", \"status\": \"done\" } ", 200, `{"status":"ok","response":{"id":2,"task":"Sample Task Updated","status":"done"}}`},
		{"GET", "/v1?id=2", ``, 200, `{"status":"ok","response":[{"id":2,"task":"Sample Task Updated","status":"done"}]}`},
		{"DELETE", "/v1", "{ \"id\": \"2\" } ", 200, `{"status":"ok","response":{"id":2}}`},
		{"GET", "/v1?id=2", ``, 200, `{"status":"ok","response":[]}`},
		// What the reference got wrong or left unsaid.
		{"POST", "/v1", `{"id": 2, "task": "gone", "status": "done"}`, 404, `{"status":"error","response":"todo 2 not found"}`},
		{"DELETE", "/v1", `{"id": 2}`, 404, `{"status":"error","response":"todo 2 not found"}`},
		{"DELETE", "/v1", `{}`, 400, `{"status":"error","response":"missing field: id"}`},
		{"GET", "/v1", ``, 400, `{"status":"error","response":"missing query parameter: id"}`},
		{"GET", "/v1?id=abc", ``, 400, `{"status":"error","response":"id must be a positive integer"}`},
		{"POST", "/v1", `{"task": "no status"}`, 400, `{"status":"error","response":"missing field: status (1 to 50 characters)"}`},
		{"POST", "/v1", `{"id": -1, "task": "t", "status": "s"}`, 400, `{"status":"error","response":"id must be a positive integer"}`},
		{"POST", "/v1", `{"task": `, 400, `{"status":"error","response":"request body is not valid JSON"}`},
	} {
		if r := curl(step.method, step.path, step.body); r.status != step.status || r.body != step.want {
			t.Fatalf("%s %s %s: %d %s, want %d %s", step.method, step.path, step.body, r.status, r.body, step.status, step.want)
		}
	}
	// With "Bearer" too; a deleted item's id is not handed out again.
	r := send(t, "POST", f.url+"/todo/v1", `{"task":"t","status":"s"}`, "Authorization", "Bearer "+token, "Content-Type", jsonType)
	if r.status != 200 || !strings.Contains(r.body, `"id":3`) {
		t.Fatalf("with Bearer: %d %s", r.status, r.body)
	}

	// A signed-in user's token has no scope but names a user: it reads and
	// writes, as the web app does. A client without the scope only reads.
	if r := send(t, "GET", f.url+"/todo/v1?id=1", "", "Authorization", f.user); r.status != 200 {
		t.Fatalf("read with a user's token: %d %s", r.status, r.body)
	}
	if r := send(t, "POST", f.url+"/todo/v1", `{"task":"from a user","status":"todo"}`, "Authorization", "Bearer "+f.user); r.status != 200 || r.body != `{"status":"ok","response":{"id":4,"task":"from a user","status":"todo"}}` {
		t.Fatalf("write with a user's token: %d %s", r.status, r.body)
	}
	if r := send(t, "DELETE", f.url+"/todo/v1", `{"id":4}`, "Authorization", f.user); r.status != 200 {
		t.Fatalf("delete with a user's token: %d %s", r.status, r.body)
	}
	reader := f.clientTokenWithScope(t, "api/read")
	if r := send(t, "GET", f.url+"/todo/v1?id=1", "", "Authorization", reader); r.status != 200 {
		t.Fatalf("read with a client without the scope: %d %s", r.status, r.body)
	}
	for _, method := range []string{"POST", "DELETE"} {
		if r := send(t, method, f.url+"/todo/v1", `{"id":1,"task":"t","status":"s"}`, "Authorization", reader); r.status != 403 || !strings.Contains(r.header.Get("WWW-Authenticate"), "insufficient_scope") {
			t.Fatalf("%s with a client without the scope: %d %s", method, r.status, r.body)
		}
	}
	if r := send(t, "GET", f.url+"/todo/v1/items", "", "Authorization", reader); r.status != 200 || r.body != `{"status":"ok","response":[{"id":1,"task":"Sample Task new","status":"wip"},{"id":3,"task":"t","status":"s"}]}` {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", f.url+"/todo/v1/items", ""); r.status != 401 {
		t.Fatalf("list without a token: %d %s", r.status, r.body)
	}
	if r := send(t, "GET", f.url+"/todo/v1?id=1", ""); r.status != 401 {
		t.Fatalf("read without a token: %d %s", r.status, r.body)
	}

	f.setState(tandem.StateFenced)
	if r := curl("POST", "/v1", `{"task":"t","status":"s"}`); r.status != 503 || r.body != `{"status":"error","response":"`+httpapi.FencedToDoMessage+`"}` {
		t.Fatalf("fenced: %d %s", r.status, r.body)
	}
}

// FuzzToDoFields sends tasks, statuses and ids meant to break out of SQL.
// Whatever they hold, the todos table stays intact, an item is stored and
// read back exactly as sent or refused with 400, and an id that is not a
// positive integer changes nothing.
func FuzzToDoFields(f *testing.F) {
	for _, s := range []string{
		"'; DROP TABLE todos; --", "1 OR 1=1", `" OR ""="`, "1; DELETE FROM todos", "Robert'); DROP TABLE todos;--",
		"' UNION SELECT name, sql FROM sqlite_master --", "1' --", "%27%20OR%201=1", "\x00", "`id`", "\\'", "2", " 1 ",
		"0x01", "-1", "99999999999999999999", "1e2", "ʼ OR 1=1 --", "\u2028", "<script>",
	} {
		f.Add(s, "wip", s)
		f.Add("task", s, "1")
	}
	fx := newAppsFixture(f)
	var token string
	f.Fuzz(func(t *testing.T, task, status, id string) {
		if token == "" {
			token = fx.clientToken(t)
			// A sentinel item the attacks must leave alone.
			if r := fx.todo(t, token, "POST", "", map[string]string{"task": "sentinel", "status": "keep"}); r.status != 200 {
				t.Fatalf("sentinel: %d %s", r.status, r.body)
			}
		}
		before := fx.mustCount(t, "todos")
		// What the server receives: JSON carries valid UTF-8 only.
		sentTask, sentStatus := roundTripJSON(task), roundTripJSON(status)
		r := fx.todo(t, token, "POST", "", map[string]string{"task": task, "status": status})
		valid := tandem.ToDo{Task: sentTask, Status: sentStatus}.Validate() == nil
		switch {
		case valid && r.status == 200:
			var got struct{ Response tandem.ToDo }
			r.decode(t, &got)
			read := fx.todo(t, token, "GET", "?id="+strconv.FormatInt(got.Response.ID, 10), nil)
			var items struct{ Response []tandem.ToDo }
			read.decode(t, &items)
			want := tandem.ToDo{ID: got.Response.ID, Task: sentTask, Status: sentStatus}
			if got.Response != want || len(items.Response) != 1 || items.Response[0] != want {
				t.Fatalf("stored %+v, read %s; want %+v", got.Response, read.body, want)
			}
			before++
		case valid || r.status != 400:
			t.Fatalf("task %q status %q: %d %s", task, status, r.status, r.body)
		}

		// The id goes in the query and the body as given.
		if r := fx.todo(t, token, "GET", "?id="+url.QueryEscape(id), nil); r.status != 200 && r.status != 400 {
			t.Fatalf("get id %q: %d %s", id, r.status, r.body)
		}
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err == nil && n == 1 {
			return // the sentinel's id: deleting it is allowed, but not what this checks
		}
		r = fx.todo(t, token, "DELETE", "", map[string]string{"id": id})
		switch {
		case r.status == 200:
			before--
		case r.status != 400 && r.status != 404:
			t.Fatalf("delete id %q: %d %s", id, r.status, r.body)
		}
		if got := fx.mustCount(t, "todos"); got != before {
			t.Fatalf("after task %q status %q id %q: %d items, want %d", task, status, id, got, before)
		}
		sentinel := fx.todo(t, token, "GET", "?id=1", nil)
		if sentinel.body != `{"status":"ok","response":[{"id":1,"task":"sentinel","status":"keep"}]}` {
			t.Fatalf("sentinel is now %s", sentinel.body)
		}
	})
}

// todo calls /todo/v1 with the token as the reference sends it.
func (f *appsFixture) todo(t *testing.T, token, method, query string, body any) reply {
	t.Helper()
	b := ""
	if body != nil {
		j, _ := json.Marshal(body)
		b = string(j)
	}
	return send(t, method, f.url+"/todo/v1"+query, b, "Authorization", token, "Content-Type", jsonType)
}

// roundTripJSON returns s as a JSON string carries it.
func roundTripJSON(s string) string {
	b, _ := json.Marshal(s)
	var out string
	json.Unmarshal(b, &out)
	return out
}
