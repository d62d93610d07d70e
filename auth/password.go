package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tandemhq/tandem"
	"golang.org/x/crypto/argon2"
)

// Password policy limits. MaxPasswordLength bounds the work one sign-in can
// ask of the hasher and is well above what NIST asks services to accept (64).
const (
	MinPasswordLength = 8
	MaxPasswordLength = 256
)

// Argon2id parameters for new hashes: the OWASP baseline (19 MiB, 2 passes,
// 1 lane). A hash records its own parameters, so raising these later leaves
// existing hashes checkable.
const (
	argonMemory  = 19 * 1024 // KiB
	argonTime    = 2
	argonThreads = 1
	argonSaltLen = 16
	argonKeyLen  = 32
)

// Bounds on the parameters CheckPassword accepts from a stored hash, so that a
// corrupt or hostile hash cannot make one check allocate gigabytes.
const (
	maxArgonMemory = 256 * 1024 // KiB
	maxArgonTime   = 16
)

// HashPassword returns an argon2id hash of pw in the PHC string format,
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>", with a random salt.
//
// Argon2id rather than bcrypt: it is memory-hard, so guessing on GPUs costs
// far more; it takes the whole password where bcrypt silently uses only the
// first 72 bytes; and it is the first choice of RFC 9106 and OWASP. Hashes
// replicate with the users, so both regions check them alike.
//
// It does not apply the policy (ValidatePassword does); it returns EINVALID
// only for a password far longer than the policy allows.
func HashPassword(pw string) (string, error) {
	if len(pw) > 4*MaxPasswordLength {
		return "", tandem.Errorf(tandem.EINVALID, "password is too long")
	}
	salt := make([]byte, argonSaltLen)
	rand.Read(salt)
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(key),
	), nil
}

// CheckPassword reports whether pw matches hash, a string from HashPassword.
// The comparison takes the same time wherever the two differ. It returns
// false for a malformed hash.
func CheckPassword(hash, pw string) bool {
	p, ok := parseArgon2idHash(hash)
	if !ok || len(pw) > 4*MaxPasswordLength {
		return false
	}
	key := argon2.IDKey([]byte(pw), p.salt, p.time, p.memory, p.threads, uint32(len(p.key)))
	return subtle.ConstantTimeCompare(key, p.key) == 1
}

type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func parseArgon2idHash(s string) (argon2idHash, bool) {
	var p argon2idHash
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, false
	}
	var m, t, threads uint32
	if n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil || n != 3 {
		return p, false
	}
	if m == 0 || m > maxArgonMemory || t == 0 || t > maxArgonTime || threads == 0 || threads > 255 || m < 8*threads {
		return p, false
	}
	salt, err := base64.RawStdEncoding.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, false
	}
	key, err := base64.RawStdEncoding.Strict().DecodeString(parts[5])
	if err != nil || len(key) < 16 || len(key) > 64 {
		return p, false
	}
	return argon2idHash{memory: m, time: t, threads: uint8(threads), salt: salt, key: key}, true
}

// ValidatePassword checks pw against the password policy: at least
// MinPasswordLength characters, with an uppercase letter, a lowercase letter,
// a digit and a symbol. It returns an EINVALID error naming everything that is
// missing, so a user can fix it in one go.
func ValidatePassword(pw string) error {
	if !utf8.ValidString(pw) {
		return tandem.Errorf(tandem.EINVALID, "password must be valid UTF-8 text")
	}
	n := utf8.RuneCountInString(pw)
	if n > MaxPasswordLength {
		return tandem.Errorf(tandem.EINVALID, "password must have at most %d characters", MaxPasswordLength)
	}
	var upper, lower, digit, symbol bool
	for _, r := range pw {
		switch {
		case unicode.IsControl(r):
			return tandem.Errorf(tandem.EINVALID, "password must not contain control characters")
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case isSymbol(r):
			symbol = true
		}
	}
	var missing []string
	if n < MinPasswordLength {
		missing = append(missing, fmt.Sprintf("at least %d characters", MinPasswordLength))
	}
	if !upper {
		missing = append(missing, "an uppercase letter")
	}
	if !lower {
		missing = append(missing, "a lowercase letter")
	}
	if !digit {
		missing = append(missing, "a digit")
	}
	if !symbol {
		missing = append(missing, "a symbol")
	}
	if len(missing) > 0 {
		return tandem.Errorf(tandem.EINVALID, "password must have %s", joinAnd(missing))
	}
	return nil
}

// isSymbol reports whether r counts as the policy's symbol: punctuation or a
// symbol character, or a space.
func isSymbol(r rune) bool {
	return unicode.IsPunct(r) || unicode.IsSymbol(r) || r == ' '
}

// joinAnd joins items as "a, b and c".
func joinAnd(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// Alphabets for temporary passwords, without look-alikes (I, O, l, o, 0, 1)
// and with symbols that need no quoting in a shell or a URL form.
const (
	tempUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	tempLower  = "abcdefghijkmnpqrstuvwxyz"
	tempDigit  = "23456789"
	tempSymbol = "%+=@_."
	tempLength = 16
)

// NewTemporaryPassword returns a random 16-character password, about 90 bits
// from crypto/rand, that meets the password policy: one character of each
// required class, the rest from all of them, in random order.
func NewTemporaryPassword() string {
	all := tempUpper + tempLower + tempDigit + tempSymbol
	b := []byte{
		tempUpper[randIndex(len(tempUpper))],
		tempLower[randIndex(len(tempLower))],
		tempDigit[randIndex(len(tempDigit))],
		tempSymbol[randIndex(len(tempSymbol))],
	}
	for len(b) < tempLength {
		b = append(b, all[randIndex(len(all))])
	}
	for i := len(b) - 1; i > 0; i-- {
		j := randIndex(i + 1)
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}

// randIndex returns a uniform random int in [0, n) from crypto/rand, for
// 0 < n <= 256, rejecting bytes that would bias the result.
func randIndex(n int) int {
	limit := 256 - 256%n
	var buf [1]byte
	for {
		rand.Read(buf[:])
		if int(buf[0]) < limit {
			return int(buf[0]) % n
		}
	}
}

// ValidateUsername checks that name is 4 to 20 characters of ASCII letters,
// digits and hyphens. It returns an EINVALID error otherwise.
func ValidateUsername(name string) error {
	ok := len(name) >= 4 && len(name) <= 20
	for i := 0; ok && i < len(name); i++ {
		c := name[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-'
	}
	if !ok {
		return tandem.Errorf(tandem.EINVALID, "username must be 4 to 20 letters, digits or hyphens")
	}
	return nil
}
