package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"strings"
)

// clientEncoding writes IDs and secrets in lowercase base32 without padding:
// nothing in them needs escaping in a URL form, HTTP Basic or a shell.
var clientEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewClientCredentials returns a new OAuth2 client's ID (128 random bits, 26
// characters) and secret (256 random bits, 52 characters). Show the secret
// once and keep only HashClientSecret of it.
func NewClientCredentials() (id, secret string) {
	return randomText(16), randomText(32)
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return clientEncoding.EncodeToString(b)
}

const clientSecretHashPrefix = "sha256$"

// HashClientSecret returns the hash of a client secret to keep at rest.
//
// It is a plain SHA-256, not argon2id as for passwords: a secret from
// NewClientCredentials has 256 random bits, so no amount of hashing speed
// makes guessing it feasible, while a deliberately slow hash would cost every
// token request 19 MiB and tens of milliseconds for nothing.
func HashClientSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return clientSecretHashPrefix + base64.RawStdEncoding.EncodeToString(sum[:])
}

// CheckClientSecret reports whether secret matches hash, a string from
// HashClientSecret, in time that does not depend on where they differ.
func CheckClientSecret(hash, secret string) bool {
	want, ok := strings.CutPrefix(hash, clientSecretHashPrefix)
	if !ok {
		return false
	}
	got := strings.TrimPrefix(HashClientSecret(secret), clientSecretHashPrefix)
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
