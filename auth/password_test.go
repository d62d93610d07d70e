package auth

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tandemhq/tandem"
	"golang.org/x/crypto/argon2"
)

func TestValidatePassword(t *testing.T) {
	tests := []struct {
		pw   string
		want string // "" if valid, else the message
	}{
		{"Passw0rd!", ""},
		{"Aa1!aaaa", ""},
		{"Ünïcödé9 ok", ""},
		{"correct Horse 9 battery", ""},
		{"Aa1!aaa", "password must have at least 8 characters"},
		{"password1!", "password must have an uppercase letter"},
		{"PASSWORD1!", "password must have a lowercase letter"},
		{"Password!!", "password must have a digit"},
		{"Password11", "password must have a symbol"},
		{"password", "password must have an uppercase letter, a digit and a symbol"},
		{"", "password must have at least 8 characters, an uppercase letter, a lowercase letter, a digit and a symbol"},
		{"aB1!", "password must have at least 8 characters"},
		{"Passw0rd!\x00", "password must not contain control characters"},
		{"Passw0rd!\xff", "password must be valid UTF-8 text"},
		{"Aa1!" + strings.Repeat("x", MaxPasswordLength), "password must have at most 256 characters"},
	}
	for _, tt := range tests {
		err := ValidatePassword(tt.pw)
		if tt.want == "" {
			if err != nil {
				t.Errorf("ValidatePassword(%q) = %v, want nil", tt.pw, err)
			}
			continue
		}
		if got := tandem.ErrorCode(err); got != tandem.EINVALID {
			t.Errorf("ValidatePassword(%q) code = %q, want %q", tt.pw, got, tandem.EINVALID)
		}
		if got := tandem.ErrorMessage(err); got != tt.want {
			t.Errorf("ValidatePassword(%q) = %q, want %q", tt.pw, got, tt.want)
		}
	}
}

func TestHashPassword(t *testing.T) {
	const pw = "Passw0rd!"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not in PHC format", h1)
	}
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	if !CheckPassword(h1, pw) || !CheckPassword(h2, pw) {
		t.Fatal("CheckPassword rejected the right password")
	}
	for _, wrong := range []string{"", "passw0rd!", "Passw0rd", "Passw0rd!!"} {
		if CheckPassword(h1, wrong) {
			t.Errorf("CheckPassword accepted %q", wrong)
		}
	}
	// Parameters come from the hash, so hashes made with other costs still check.
	salt := []byte("saltsaltsaltsalt")
	other := "$argon2id$v=19$m=64,t=1,p=2$" + base64.RawStdEncoding.EncodeToString(salt) + "$" +
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(pw), salt, 1, 64, 2, 32))
	if !CheckPassword(other, pw) {
		t.Fatalf("CheckPassword rejected a hash with other parameters: %s", other)
	}
}

func TestCheckPassword_Malformed(t *testing.T) {
	h, err := HashPassword("Passw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(h, "$")
	tests := map[string]string{
		"empty":        "",
		"bcrypt":       "$2a$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234",
		"argon2i":      strings.Replace(h, "argon2id", "argon2i", 1),
		"old version":  strings.Replace(h, "v=19", "v=16", 1),
		"huge memory":  strings.Replace(h, "m=19456", "m=4194304", 1),
		"zero time":    strings.Replace(h, "t=2", "t=0", 1),
		"zero threads": strings.Replace(h, "p=1", "p=0", 1),
		"bad salt":     strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		"short key":    strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "YWJj"}, "$"),
		"extra field":  h + "$x",
	}
	for name, hash := range tests {
		if CheckPassword(hash, "Passw0rd!") {
			t.Errorf("%s: CheckPassword accepted %q", name, hash)
		}
	}
}

func TestNewTemporaryPassword(t *testing.T) {
	seen := map[string]bool{}
	for range 500 {
		pw := NewTemporaryPassword()
		if err := ValidatePassword(pw); err != nil {
			t.Fatalf("NewTemporaryPassword() = %q: %v", pw, err)
		}
		if len(pw) != 16 {
			t.Fatalf("NewTemporaryPassword() = %q, want 16 characters", pw)
		}
		if seen[pw] {
			t.Fatalf("NewTemporaryPassword() repeated %q", pw)
		}
		seen[pw] = true
	}
}

func TestValidateUsername(t *testing.T) {
	tests := map[string]bool{
		"alice":                 true,
		"Bob-2":                 true,
		"abcd":                  true,
		"abcdefghijklmnopqrst":  true,
		"abc":                   false,
		"abcdefghijklmnopqrstu": false,
		"":                      false,
		"al ice":                false,
		"alice@example.com":     false,
		"alice_1":               false,
		"ålice":                 false,
	}
	for name, ok := range tests {
		err := ValidateUsername(name)
		if ok && err != nil {
			t.Errorf("ValidateUsername(%q) = %v", name, err)
		}
		if !ok && tandem.ErrorCode(err) != tandem.EINVALID {
			t.Errorf("ValidateUsername(%q) = %v, want EINVALID", name, err)
		}
	}
}
