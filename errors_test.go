package tandem_test

import (
	"testing"

	"github.com/tandemhq/tandem"
)

// TestErrorStatusTable: every code maps to a status and back, 503 reads as
// unavailable, and anything unknown is internal.
func TestErrorStatusTable(t *testing.T) {
	for _, code := range []string{tandem.EINVALID, tandem.EUNAUTHORIZED, tandem.EFORBIDDEN, tandem.ENOTFOUND, tandem.ECONFLICT,
		tandem.ETOOLARGE, tandem.EUNSUPPORTED, tandem.ETOOMANY, tandem.EUNAVAILABLE} {
		status := tandem.ErrorStatus(tandem.Errorf(code, "x"))
		if got := tandem.StatusErrorCode(status); got != code {
			t.Errorf("%s → %d → %s", code, status, got)
		}
	}
	for _, code := range []string{tandem.EFENCED, tandem.ENOTWRITER} {
		if status := tandem.ErrorStatus(tandem.Errorf(code, "x")); status != 503 || tandem.StatusErrorCode(status) != tandem.EUNAVAILABLE {
			t.Errorf("%s → %d", code, status)
		}
	}
	if tandem.ErrorStatus(nil) != 200 || tandem.ErrorStatus(tandem.Errorf(tandem.EINTERNAL, "x")) != 500 || tandem.StatusErrorCode(502) != tandem.EINTERNAL {
		t.Error("nil, internal or an unknown status mapped wrong")
	}
}
