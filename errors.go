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

// ErrorStatus returns the HTTP status for err's code: the one table that maps
// codes to statuses for every HTTP API of tandem.
func ErrorStatus(err error) int {
	switch ErrorCode(err) {
	case "":
		return 200
	case EINVALID:
		return 400
	case EUNAUTHORIZED:
		return 401
	case EFORBIDDEN:
		return 403
	case ENOTFOUND:
		return 404
	case ECONFLICT:
		return 409
	case ETOOLARGE:
		return 413
	case EUNSUPPORTED:
		return 415
	case ETOOMANY:
		return 429
	case EFENCED, ENOTWRITER, EUNAVAILABLE:
		return 503
	default:
		return 500
	}
}
