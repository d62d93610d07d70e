package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"testing"
)

func TestKeyPEM_RoundTrip(t *testing.T) {
	key := MustGenerateKey(t)
	data, err := MarshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != key.ID || !got.Private.Equal(key.Private) {
		t.Fatalf("ParseKeyPEM = %s, want %s", got.ID, key.ID)
	}

	// SEC 1, as openssl ecparam -genkey writes.
	der, err := x509.MarshalECPrivateKey(key.Private)
	if err != nil {
		t.Fatal(err)
	}
	got, err = ParseKeyPEM(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != key.ID {
		t.Fatalf("SEC 1 key ID = %s, want %s", got.ID, key.ID)
	}
}

func TestParseKeyPEM_Invalid(t *testing.T) {
	key := MustGenerateKey(t)
	good, err := MarshalKeyPEM(key)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der384, err := x509.MarshalPKCS8PrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	pkix, err := x509.MarshalPKIXPublicKey(&key.Private.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":          nil,
		"not PEM":        []byte("hello"),
		"trailing data":  append(append([]byte{}, good...), good...),
		"P-384":          pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der384}),
		"public key":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix}),
		"corrupt PKCS 8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}),
	}
	for name, data := range tests {
		if _, err := ParseKeyPEM(data); err == nil {
			t.Errorf("%s: ParseKeyPEM succeeded", name)
		}
	}
}

func TestJWKS_RoundTrip(t *testing.T) {
	keyA, keyB := MustGenerateKey(t), MustGenerateKey(t)
	if keyA.ID == keyB.ID {
		t.Fatal("two keys have the same ID")
	}
	var set JWKS
	for _, k := range []Key{keyA, keyB} {
		j, err := k.PublicJWK()
		if err != nil {
			t.Fatal(err)
		}
		set.Keys = append(set.Keys, j)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}

	var raw struct{ Keys []map[string]string }
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	m := raw.Keys[0]
	if m["kty"] != "EC" || m["crv"] != "P-256" || m["alg"] != "ES256" || m["use"] != "sig" || m["kid"] != keyA.ID || len(m) != 7 {
		t.Fatalf("JWK = %v", m)
	}
	for _, c := range []string{"x", "y"} {
		if b, err := base64.RawURLEncoding.DecodeString(m[c]); err != nil || len(b) != 32 {
			t.Fatalf("%s = %q is not 32 bytes of base64url", c, m[c])
		}
	}

	var back JWKS
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	ks, err := back.KeySet()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Key{keyA, keyB} {
		pub, ok := ks.Lookup(k.ID)
		if !ok || !pub.Equal(&k.Private.PublicKey) {
			t.Fatalf("key %s did not round-trip", k.ID)
		}
	}
	if _, ok := ks.Lookup("nope"); ok {
		t.Fatal("Lookup found an unknown kid")
	}
	if got := back.Keys[0].Thumbprint(); got != keyA.ID {
		t.Fatalf("Thumbprint = %s, want the key ID %s", got, keyA.ID)
	}
}

func TestPublicJWK_Invalid(t *testing.T) {
	key := MustGenerateKey(t)
	good, err := key.PublicJWK()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := good.PublicKey(); err != nil {
		t.Fatal(err)
	}
	y, _ := base64.RawURLEncoding.DecodeString(good.Y)
	y[31] ^= 1
	offCurve := base64.RawURLEncoding.EncodeToString(y)
	tests := map[string]func(j *PublicJWK){
		"no kid":          func(j *PublicJWK) { j.Kid = "" },
		"kty RSA":         func(j *PublicJWK) { j.Kty = "RSA" },
		"crv P-384":       func(j *PublicJWK) { j.Crv = "P-384" },
		"alg RS256":       func(j *PublicJWK) { j.Alg = "RS256" },
		"use enc":         func(j *PublicJWK) { j.Use = "enc" },
		"point off curve": func(j *PublicJWK) { j.Y = offCurve },
		"zero point":      func(j *PublicJWK) { j.X, j.Y = b64(make([]byte, 32)), b64(make([]byte, 32)) },
		"short x":         func(j *PublicJWK) { j.X = j.X[:20] },
		"padded y":        func(j *PublicJWK) { j.Y += "=" },
		"std base64 x":    func(j *PublicJWK) { j.X = base64.RawStdEncoding.EncodeToString(make([]byte, 32)) + "+" },
	}
	for name, mutate := range tests {
		j := good
		mutate(&j)
		if _, err := j.PublicKey(); err == nil {
			t.Errorf("%s: PublicKey succeeded", name)
		}
		if _, err := (JWKS{Keys: []PublicJWK{j}}).KeySet(); err == nil {
			t.Errorf("%s: KeySet succeeded", name)
		}
	}
	if _, err := (JWKS{Keys: []PublicJWK{good, good}}).KeySet(); err == nil {
		t.Error("KeySet accepted a repeated kid")
	}
	noOptional := good
	noOptional.Alg, noOptional.Use = "", ""
	if _, err := noOptional.PublicKey(); err != nil {
		t.Errorf("JWK without alg and use: %v", err)
	}
}
