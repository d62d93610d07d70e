package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Key is a region's token-signing key. The private half never leaves the
// region; the public half is published in every region's JWKS.
//
// ID is the key's "kid": the RFC 7638 thumbprint of its public half, so the
// same key has the same ID wherever it is loaded.
type Key struct {
	ID      string
	Private *ecdsa.PrivateKey
}

// GenerateKey returns a new P-256 key for ES256 tokens.
func GenerateKey() (Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	return newKey(priv)
}

func newKey(priv *ecdsa.PrivateKey) (Key, error) {
	if priv.Curve != elliptic.P256() {
		return Key{}, errors.New("key is not on curve P-256")
	}
	jwk, err := NewPublicJWK("", &priv.PublicKey)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: jwk.Thumbprint(), Private: priv}, nil
}

// pemTypePrivateKey is the PEM block type of a PKCS #8 private key.
const pemTypePrivateKey = "PRIVATE KEY"

// MarshalKeyPEM encodes k's private key as a PKCS #8 PEM block, for a file
// only the region can read (mode 0600). The ID is not stored: ParseKeyPEM
// derives it again.
func MarshalKeyPEM(k Key) ([]byte, error) {
	if k.Private == nil {
		return nil, errors.New("marshal key: no private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der}), nil
}

// ParseKeyPEM decodes a P-256 private key from one PEM block, PKCS #8
// ("PRIVATE KEY", as MarshalKeyPEM writes) or SEC 1 ("EC PRIVATE KEY", as
// openssl ecparam writes), and derives its ID.
func ParseKeyPEM(data []byte) (Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return Key{}, errors.New("parse key: no PEM block")
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return Key{}, errors.New("parse key: data after the PEM block")
	}
	var priv *ecdsa.PrivateKey
	switch block.Type {
	case pemTypePrivateKey:
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return Key{}, fmt.Errorf("parse key: %w", err)
		}
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return Key{}, fmt.Errorf("parse key: %T is not an ECDSA key", k)
		}
		priv = ec
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(block.Bytes)
		if err != nil {
			return Key{}, fmt.Errorf("parse key: %w", err)
		}
		priv = k
	default:
		return Key{}, fmt.Errorf("parse key: unexpected PEM block %q", block.Type)
	}
	key, err := newKey(priv)
	if err != nil {
		return Key{}, fmt.Errorf("parse key: %w", err)
	}
	return key, nil
}

// PublicJWK returns the public half of k as a JWK.
func (k Key) PublicJWK() (PublicJWK, error) {
	if k.Private == nil {
		return PublicJWK{}, errors.New("public jwk: no private key")
	}
	return NewPublicJWK(k.ID, &k.Private.PublicKey)
}

// JWK members of the keys tandem publishes.
const (
	jwkTypeEC     = "EC"
	jwkCurveP256  = "P-256"
	jwkUseSig     = "sig"
	p256CoordSize = 32
)

// PublicJWK is an ES256 public key as a JSON Web Key (RFC 7517, with the EC
// members of RFC 7518 §6.2): X and Y are the point's coordinates, unpadded
// base64url of exactly 32 bytes each.
type PublicJWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// NewPublicJWK returns pub, a P-256 public key, as a JWK with the given kid.
func NewPublicJWK(kid string, pub *ecdsa.PublicKey) (PublicJWK, error) {
	if pub == nil || pub.Curve != elliptic.P256() {
		return PublicJWK{}, errors.New("public jwk: key is not on curve P-256")
	}
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return PublicJWK{}, fmt.Errorf("public jwk: %w", err)
	}
	return PublicJWK{
		Kty: jwkTypeEC,
		Crv: jwkCurveP256,
		X:   base64.RawURLEncoding.EncodeToString(b[1 : 1+p256CoordSize]),
		Y:   base64.RawURLEncoding.EncodeToString(b[1+p256CoordSize:]),
		Kid: kid,
		Alg: algES256,
		Use: jwkUseSig,
	}, nil
}

// PublicKey parses j back into a P-256 public key. It checks every member
// (kty EC, crv P-256, alg ES256 and use sig where present, a kid) and that the
// point is on the curve, so a bad key fails here rather than at verification.
func (j PublicJWK) PublicKey() (*ecdsa.PublicKey, error) {
	switch {
	case j.Kid == "":
		return nil, errors.New("parse jwk: no kid")
	case j.Kty != jwkTypeEC:
		return nil, fmt.Errorf("parse jwk %q: kty %q is not EC", j.Kid, j.Kty)
	case j.Crv != jwkCurveP256:
		return nil, fmt.Errorf("parse jwk %q: crv %q is not P-256", j.Kid, j.Crv)
	case j.Alg != "" && j.Alg != algES256:
		return nil, fmt.Errorf("parse jwk %q: alg %q is not ES256", j.Kid, j.Alg)
	case j.Use != "" && j.Use != jwkUseSig:
		return nil, fmt.Errorf("parse jwk %q: use %q is not sig", j.Kid, j.Use)
	}
	x, err := base64.RawURLEncoding.Strict().DecodeString(j.X)
	if err != nil || len(x) != p256CoordSize {
		return nil, fmt.Errorf("parse jwk %q: x is not 32 bytes of base64url", j.Kid)
	}
	y, err := base64.RawURLEncoding.Strict().DecodeString(j.Y)
	if err != nil || len(y) != p256CoordSize {
		return nil, fmt.Errorf("parse jwk %q: y is not 32 bytes of base64url", j.Kid)
	}
	point := append(append([]byte{4}, x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point)
	if err != nil {
		return nil, fmt.Errorf("parse jwk %q: %w", j.Kid, err)
	}
	return pub, nil
}

// Thumbprint returns j's RFC 7638 thumbprint: unpadded base64url of the
// SHA-256 of its required members in lexical order.
func (j PublicJWK) Thumbprint() string {
	// Fields in lexical order; json.Marshal adds no whitespace.
	canon, _ := json.Marshal(struct {
		Crv string `json:"crv"`
		Kty string `json:"kty"`
		X   string `json:"x"`
		Y   string `json:"y"`
	}{j.Crv, j.Kty, j.X, j.Y})
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// JWKS is a JSON Web Key Set (RFC 7517 §5), as served at
// /.well-known/jwks.json: the public keys of every region.
type JWKS struct {
	Keys []PublicJWK `json:"keys"`
}

// KeySet parses every key in s. Unlike RFC 7517's advice to skip keys it does
// not understand, it fails on any bad key or repeated kid: all keys come from
// tandem regions, and silently dropping one would reject that region's tokens
// with no clue why.
func (s JWKS) KeySet() (KeySet, error) {
	set := make(KeySet, len(s.Keys))
	for _, j := range s.Keys {
		pub, err := j.PublicKey()
		if err != nil {
			return nil, err
		}
		if _, dup := set[j.Kid]; dup {
			return nil, fmt.Errorf("parse jwks: kid %q appears twice", j.Kid)
		}
		set[j.Kid] = pub
	}
	return set, nil
}

// KeySet maps key IDs to public keys. Its Lookup method serves as a
// Verifier's Keys; it is safe for concurrent use as long as nobody writes to
// the map, so replace the whole set when keys change.
type KeySet map[string]*ecdsa.PublicKey

// Lookup returns the key with the given ID.
func (s KeySet) Lookup(kid string) (*ecdsa.PublicKey, bool) {
	k, ok := s[kid]
	return k, ok
}
