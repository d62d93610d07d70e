// Package auth is tandem's identity: password hashing and policy, the ES256
// keys and tokens that every region accepts, the JWKS that publishes the
// keys, a sign-in throttle, OAuth2 client credentials, and the Service that
// keeps users, clients, revoked tokens and public keys in the region store.
//
// Each region signs with its own Key, which never leaves it. The writer
// records every region's public key in a replicated table, and a Verifier
// built on that set accepts a token from either region, so a failover does
// not sign anyone out. Signing in and refreshing only read the store, so the
// standby does both; what writes (a new password, a sign-out, a new user)
// goes to the writer and replicates.
//
// The package has no HTTP handlers (httpapi serves the endpoints); it only
// fetches other services' JWKS for RemoteKeySet.
package auth
