package tandem

import "context"

// Comment is a comment on a photo, in the reference document's JSON shape.
type Comment struct {
	CommentID string `json:"commentId"`
	PhotoID   string `json:"photoId,omitempty"`
	User      string `json:"user"`
	Message   string `json:"message"`
}

// CommentService stores and lists comments.
type CommentService interface {
	// FindComments returns a photo's comments, oldest first.
	FindComments(ctx context.Context, photoID string) ([]Comment, error)

	// CreateComment stores c. Creating a comment whose CommentID exists
	// already stores nothing and returns nil, so a retried request is safe.
	CreateComment(ctx context.Context, c Comment) error
}
