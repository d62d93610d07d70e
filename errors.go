package tandem

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in httpapi.
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	ETOOLARGE     = "too_large"
	EUNSUPPORTED  = "unsupported_media_type"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOMANY      = "too_many_requests"
	EFENCED       = "fenced"
	ENOTWRITER    = "not_writer"
	EUNAVAILABLE  = "unavailable"
	EINTERNAL     = "internal"
)

// Error is an error a user may see: a code and a message fit to show them.
// Anything else is reported to users as an internal error and only logged.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the message of the first *Error in err's chain, or a
// generic message that reveals nothing for any other error.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}

// statuses is the one table that maps error codes to HTTP statuses for
// every HTTP API of tandem, and back (the first code of a status wins).
var statuses = []struct {
	code   string
	status int
}{
	{EINVALID, 400}, {EUNAUTHORIZED, 401}, {EFORBIDDEN, 403}, {ENOTFOUND, 404},
	{ECONFLICT, 409}, {ETOOLARGE, 413}, {EUNSUPPORTED, 415}, {ETOOMANY, 429},
	{EUNAVAILABLE, 503}, {EFENCED, 503}, {ENOTWRITER, 503},
}

// ErrorStatus returns the HTTP status for err's code: 200 for nil, 500 for a
// code the table does not have.
func ErrorStatus(err error) int {
	code := ErrorCode(err)
	if code == "" {
		return 200
	}
	for _, s := range statuses {
		if s.code == code {
			return s.status
		}
	}
	return 500
}

// StatusErrorCode returns the error code an HTTP error status stands for, as
// a client reads an answer: EUNAVAILABLE for 503, EINTERNAL for a status the
// table does not have.
func StatusErrorCode(status int) string {
	for _, s := range statuses {
		if s.status == status {
			return s.code
		}
	}
	return EINTERNAL
}
