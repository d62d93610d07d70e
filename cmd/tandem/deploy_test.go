package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemhq/tandem/internal/retry"
	"gopkg.in/yaml.v3"
)

// metricName finds the metric names an expression uses.
var metricName = regexp.MustCompile(`\btandem_[a-z0-9_]+`)

// deployExprs returns every PromQL expression in the shipped alert rules
// and Grafana dashboard, by where it came from.
func deployExprs(t *testing.T) map[string]string {
	t.Helper()
	exprs := map[string]string{}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readFile(t, "../../deploy/prometheus/alerts.yml")), &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs["alert "+r.Alert] = r.Expr
		}
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(readFile(t, "../../deploy/grafana/tandem.json")), &dash); err != nil {
		t.Fatalf("tandem.json: %v", err)
	}
	for _, p := range dash.Panels {
		for i, tg := range p.Targets {
			exprs[fmt.Sprintf("panel %q target %d", p.Title, i)] = tg.Expr
		}
	}
	for _, a := range dash.Annotations.List {
		exprs["annotation "+a.Name] = a.Expr
	}
	return exprs
}

// exposedMetrics returns the names of the metrics the edge and both regions
// expose, with a histogram's _bucket, _sum and _count series.
func exposedMetrics(t *testing.T, base int) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for port := base; port <= base+2; port++ {
		r := call(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "")
		if r.status != 200 {
			t.Fatalf("metrics on :%d: %+v", port, r)
		}
		for _, line := range strings.Split(r.body, "\n") {
			f := strings.Fields(line)
			if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
				continue
			}
			names[f[2]] = true
			if f[3] == "histogram" || f[3] == "summary" {
				names[f[2]+"_bucket"], names[f[2]+"_sum"], names[f[2]+"_count"] = true, true, true
			}
		}
	}
	return names
}

// TestDeployMetricsExist parses the shipped Prometheus alert rules and
// Grafana dashboard and checks that every metric they name is exposed by a
// running deployment (after writes, health checks and a switchover, so
// that labelled metrics have series).
func TestDeployMetricsExist(t *testing.T) {
	exprs := deployExprs(t)
	if len(exprs) < 10 {
		t.Fatalf("only %d expressions in deploy/", len(exprs))
	}
	dir := filepath.Join(t.TempDir(), "data")
	base := freePortBase(t)
	startUp(t, dir, base)
	edge := fmt.Sprintf("http://127.0.0.1:%d", base)
	token := strings.TrimSpace(cli(t, "token", "--dir", dir))
	for i := range 5 {
		if r := postCommentAs(t, edge, token, fmt.Sprintf("m%d", i)); r.status != 201 {
			t.Fatalf("write: %+v", r)
		}
	}
	cli(t, "switchover", "--to", "ap-northeast-1", "--dir", dir)

	var missing []string
	retry.Until(t, 100*time.Millisecond, 20*time.Second, func() error {
		names := exposedMetrics(t, base)
		missing = missing[:0]
		for where, expr := range exprs {
			for _, name := range metricName.FindAllString(expr, -1) {
				if !names[name] {
					missing = append(missing, fmt.Sprintf("%s (%s)", name, where))
				}
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("not exposed: %s", strings.Join(missing, ", "))
		}
		return nil
	})
}
