package tandem

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Remittance is a money transfer of the reference remittance application,
// in its JSON shape. Version grows by one at every update; an update or a
// delete that names a version applies only to that version.
type Remittance struct {
	ID                string    `json:"id"`
	SenderName        string    `json:"senderName"`
	SenderBank        string    `json:"senderBank"`
	SenderAccount     string    `json:"senderAccount"`
	ReceiverName      string    `json:"receiverName"`
	ReceiverBank      string    `json:"receiverBank"`
	ReceiverAccount   string    `json:"receiverAccount"`
	Amount            int64     `json:"amount"`
	CreationTimestamp time.Time `json:"creationTimestamp"`
	Version           int64     `json:"version"`
	// CreatedBy is the user who created it, from their token.
	CreatedBy string `json:"createdBy,omitempty"`
}

// MaxRemittanceText is the most characters a remittance's names, banks and
// accounts may have.
const MaxRemittanceText = 100

// Validate checks the fields a client sets: names, banks and accounts of 1
// to MaxRemittanceText characters (no control characters), and an amount
// greater than 0. Returns EINVALID naming the first field that is wrong.
func (r Remittance) Validate() error {
	for _, f := range []struct{ name, value string }{
		{"senderName", r.SenderName}, {"senderBank", r.SenderBank}, {"senderAccount", r.SenderAccount},
		{"receiverName", r.ReceiverName}, {"receiverBank", r.ReceiverBank}, {"receiverAccount", r.ReceiverAccount},
	} {
		if err := CheckText(f.name, f.value, MaxRemittanceText); err != nil {
			return err
		}
	}
	if r.Amount <= 0 {
		return Errorf(EINVALID, "amount must be an integer greater than 0")
	}
	return nil
}

// CheckText returns EINVALID naming the field unless value is valid UTF-8,
// not blank, at most max characters long and free of control characters.
func CheckText(field, value string, max int) error {
	switch {
	case !utf8.ValidString(value):
		return Errorf(EINVALID, "%s is not valid UTF-8", field)
	case strings.TrimSpace(value) == "":
		return Errorf(EINVALID, "missing field: %s (1 to %d characters)", field, max)
	case utf8.RuneCountInString(value) > max:
		return Errorf(EINVALID, "%s must be 1 to %d characters", field, max)
	case strings.IndexFunc(value, unicode.IsControl) >= 0:
		return Errorf(EINVALID, "%s must not contain control characters", field)
	}
	return nil
}

// RemittanceService stores remittances.
type RemittanceService interface {
	// FindRemittances returns every remittance, oldest first.
	FindRemittances(ctx context.Context) ([]Remittance, error)

	// FindRemittanceByID returns a remittance. Returns ENOTFOUND if there
	// is none with that id.
	FindRemittanceByID(ctx context.Context, id string) (Remittance, error)

	// CreateRemittance validates r and stores it with a new ID, its
	// creation time and version 1, which it sets in r.
	CreateRemittance(ctx context.Context, r *Remittance) error

	// UpdateRemittance validates r and replaces the client fields of the
	// remittance r.ID, provided it is still at r.Version; on success r holds
	// the stored remittance, at the next version. Returns ENOTFOUND if there
	// is none, and ECONFLICT if another update came first.
	UpdateRemittance(ctx context.Context, r *Remittance) error

	// DeleteRemittance deletes a remittance; at version when version > 0.
	// Returns ENOTFOUND if there is none, ECONFLICT if it changed since.
	DeleteRemittance(ctx context.Context, id string, version int64) error

	// ClearRemittances deletes every remittance and returns how many.
	ClearRemittances(ctx context.Context) (int, error)
}
