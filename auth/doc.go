// Package auth is tandem's identity toolkit, free of HTTP and storage:
// password hashing and policy, the ES256 keys and tokens that every region
// accepts, the JWKS that publishes the keys, a sign-in throttle, and OAuth2
// client credentials.
//
// Each region signs with its own Key; the public halves of all regions' keys
// are published as one JWKS, and a Verifier built on that set accepts a token
// from either region, so a failover does not sign anyone out.
package auth
