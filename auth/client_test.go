package auth

import (
	"strings"
	"testing"
)

func TestNewClientCredentials(t *testing.T) {
	const charset = "abcdefghijklmnopqrstuvwxyz234567"
	seen := map[string]bool{}
	for range 100 {
		id, secret := NewClientCredentials()
		if len(id) != 26 || len(secret) != 52 {
			t.Fatalf("id %q (%d), secret %q (%d): want 26 and 52 characters", id, len(id), secret, len(secret))
		}
		if strings.Trim(id+secret, charset) != "" {
			t.Fatalf("id %q or secret %q has characters outside %s", id, secret, charset)
		}
		if seen[id] || seen[secret] {
			t.Fatal("repeated id or secret")
		}
		seen[id], seen[secret] = true, true
	}
}

func TestClientSecretHash(t *testing.T) {
	_, secret := NewClientCredentials()
	h := HashClientSecret(secret)
	if strings.Contains(h, secret) || !strings.HasPrefix(h, "sha256$") {
		t.Fatalf("hash %q", h)
	}
	if !CheckClientSecret(h, secret) {
		t.Fatal("CheckClientSecret rejected the secret")
	}
	for _, wrong := range []string{"", secret[:51], secret + "a", strings.ToUpper(secret)} {
		if CheckClientSecret(h, wrong) {
			t.Errorf("CheckClientSecret accepted %q", wrong)
		}
	}
	for _, bad := range []string{"", strings.TrimPrefix(h, "sha256$"), "sha256$"} {
		if CheckClientSecret(bad, secret) {
			t.Errorf("CheckClientSecret accepted hash %q", bad)
		}
	}
}
