package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/retry"
)

// TestUpReferenceApps runs the reference ToDo API's curl commands and the
// remittance API against `tandem up`, through the edge: a client made with
// `tandem clients add`, its token sent without "Bearer"; the items reach the
// standby; an admin's execute-runbook moves the writer, and the remittances
// are there.
func TestUpReferenceApps(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base)
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	standby := fmt.Sprintf("http://127.0.0.1:%d", base+2)

	out := cli(t, "clients", "add", "todo", "--scope", "api/upsert-delete", "--dir", dir)
	id := regexp.MustCompile(`client id:\s+(\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client secret:\s+(\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("clients add:\n%s", out)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(id[1]+":"+secret[1]))
	r := callWith(t, "POST", edge+"/todo/oauth2/token", "grant_type=client_credentials", "Content-Type", "application/x-www-form-urlencoded", "Authorization", basic)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: %+v", r)
	}
	todo := func(method, url, body string) response {
		t.Helper()
		return callWith(t, method, url, body, "Authorization", tok.AccessToken, "Content-Type", "application/json")
	}
	for _, step := range []struct{ method, path, body, want string }{
		{"POST", "/todo/v1", `{ "task": "Sample Task new", "status": "wip" }`, `{"status":"ok","response":{"id":1,"task":"Sample Task new","status":"wip"}}`},
		{"POST", "/todo/v1", `{ "task": "Sample Task new for failover", "status": "wip" }`, `{"status":"ok","response":{"id":2,"task":"Sample Task new for failover","status":"wip"}}`},
		{"GET", "/todo/v1?id=1", ``, `{"status":"ok","response":[{"id":1,"task":"Sample Task new","status":"wip"}]}`},
		{"POST", "/todo/v1", `{ "id": "2", "task": "Sample Task Updated", "status": "done" } `, `{"status":"ok","response":{"id":2,"task":"Sample Task Updated","status":"done"}}`},
		{"DELETE", "/todo/v1", `{ "id": "2" } `, `{"status":"ok","response":{"id":2}}`},
	} {
		if r := todo(step.method, edge+step.path, step.body); r.status != 200 || r.body != step.want {
			t.Fatalf("%s %s %s: %+v, want %s", step.method, step.path, step.body, r, step.want)
		}
	}
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		if r := todo("GET", standby+"/todo/v1?id=1", ""); !strings.Contains(r.body, "Sample Task new") {
			return fmt.Errorf("todo 1 at the standby: %+v", r)
		}
		return nil
	})

	idToken := strings.TrimSpace(cli(t, "token", "--id", "--dir", dir))
	remittance := `{"senderName":"Ana","senderBank":"Banco Um","senderAccount":"0001","receiverName":"Kenji","receiverBank":"Tokyo Bank","receiverAccount":"9876","amount":250}`
	if r := callWith(t, "POST", edge+"/remittance/create-remittance", remittance, "Authorization", idToken); r.status != 201 || r.region != tandem.DefaultWriterRegion {
		t.Fatalf("create remittance: %+v", r)
	}
	r = callWith(t, "POST", edge+"/remittance/execute-runbook", `{"kind":"switchover","target":"`+tandem.DefaultStandbyRegion+`"}`, "Authorization", "Bearer "+idToken)
	if r.status != 202 || !strings.Contains(r.body, `"kind":"switchover"`) {
		t.Fatalf("execute-runbook: %+v", r)
	}
	checkAllSucceeded(t, waitRunbook(t, dir))
	if snap := status(t, dir).Snapshot; snap.Writer != tandem.DefaultStandbyRegion || snap.State != tandem.StateActive {
		t.Fatalf("after the switchover: %s", snap)
	}
	if r := callWith(t, "POST", edge+"/remittance/create-remittance", remittance, "Authorization", idToken); r.status != 201 || r.region != tandem.DefaultStandbyRegion {
		t.Fatalf("create remittance after the switchover: %+v", r)
	}
	r = callWith(t, "GET", edge+"/remittance/get-remittances", "", "Authorization", idToken)
	var rems []tandem.Remittance
	if r.status != 200 || json.Unmarshal([]byte(r.body), &rems) != nil || len(rems) != 2 || rems[0].Amount != 250 || rems[0].CreatedBy != "admin" {
		t.Fatalf("remittances after the switchover: %+v", r)
	}

	// Deleting the client revokes its token everywhere.
	if out := cli(t, "clients", "delete", id[1], "--dir", dir); !strings.Contains(out, "deleted") {
		t.Fatalf("clients delete:\n%s", out)
	}
	retry.Until(t, 20*time.Millisecond, 20*time.Second, func() error {
		for _, base := range []string{edge, standby} {
			if r := todo("GET", base+"/todo/v1?id=1", ""); r.status != 401 {
				return fmt.Errorf("the deleted client's token at %s: %+v", base, r)
			}
		}
		return nil
	})
}
