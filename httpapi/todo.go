package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/tandemhq/tandem"
	"github.com/tandemhq/tandem/internal/httpjson"
)

// ToDoWriteScope is the OAuth scope the ToDo API's writes need.
const ToDoWriteScope = "api/upsert-delete"

// FencedToDoMessage is shown when a ToDo cannot be written because the
// application is fenced.
const FencedToDoMessage = "ToDos cannot currently be changed. Please try again in a few minutes"

// routeToDos serves the reference ToDo API under /todo: its token endpoint
// (the client-credentials grant of /api/oauth2/token) and /v1, plus
// /v1/items, which lists every item for the web app (the reference could
// only read one at a time). Reads take any valid token; writes take a
// signed-in user's token (the web app's) or a client's token with
// ToDoWriteScope, and refuse other clients' tokens with 403. The reference
// clients send the token without "Bearer", which is accepted as well.
func (s *Server) routeToDos() {
	if s.ToDos == nil {
		return
	}
	if s.Identity != nil {
		s.mux.HandleFunc("POST /todo/oauth2/token", s.handleClientToken)
	}
	write := RequireScopeOrUser(ToDoWriteScope)
	s.mux.HandleFunc("GET /todo/v1", s.withAuth(nil, s.handleGetToDo))
	s.mux.HandleFunc("GET /todo/v1/items", s.withAuth(nil, s.handleListToDos))
	s.mux.HandleFunc("POST /todo/v1", s.withAuth(write, s.handleUpsertToDo))
	s.mux.HandleFunc("DELETE /todo/v1", s.withAuth(write, s.handleDeleteToDo))
}

// toDoReply is every answer of /todo/v1: {"status":"ok","response":…} or
// {"status":"error","response":"message"}.
type toDoReply struct {
	Status   string `json:"status"`
	Response any    `json:"response"`
}

func writeToDo(w http.ResponseWriter, v any) {
	httpjson.Write(w, http.StatusOK, toDoReply{"ok", v})
}

// writeToDoError writes err in the ToDo API's error shape, with the status
// its code maps to.
func (s *Server) writeToDoError(w http.ResponseWriter, r *http.Request, err error) {
	status := tandem.ErrorStatus(err)
	switch {
	case tandem.ErrorCode(err) == tandem.EFENCED:
		err = tandem.Errorf(tandem.EFENCED, "%s", FencedToDoMessage)
	case tandem.ErrorCode(err) == tandem.EINTERNAL:
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "2")
	}
	httpjson.Write(w, status, toDoReply{"error", tandem.ErrorMessage(err)})
}

// parseToDoID reads an id: a JSON number or a string holding one (the
// reference curl sends "2"). An absent id is 0.
func parseToDoID(raw []byte) (int64, error) {
	id, present, ok := jsonInt(raw)
	if present && (!ok || id <= 0) {
		return 0, tandem.Errorf(tandem.EINVALID, "id must be a positive integer")
	}
	return id, nil
}

// toDoRequest is the body of POST and DELETE /todo/v1.
type toDoRequest struct {
	ID     json.RawMessage `json:"id"`
	Task   string          `json:"task"`
	Status string          `json:"status"`
}

func decodeToDo(w http.ResponseWriter, r *http.Request) (tandem.ToDo, error) {
	var req toDoRequest
	if err := httpjson.Decode(w, r, httpjson.DefaultMaxBody, &req); err != nil {
		return tandem.ToDo{}, err
	}
	id, err := parseToDoID(req.ID)
	return tandem.ToDo{ID: id, Task: req.Task, Status: req.Status}, err
}

// handleGetToDo answers GET /todo/v1?id=N with the matching items, as the
// reference did: a list of none or one.
func (s *Server) handleGetToDo(w http.ResponseWriter, r *http.Request) {
	id, err := parseToDoID([]byte(r.URL.Query().Get("id")))
	if err == nil && id == 0 {
		err = tandem.Errorf(tandem.EINVALID, "missing query parameter: id")
	}
	if err != nil {
		s.writeToDoError(w, r, err)
		return
	}
	t, err := s.ToDos.FindToDoByID(r.Context(), id)
	switch tandem.ErrorCode(err) {
	case "":
		writeToDo(w, []tandem.ToDo{t})
	case tandem.ENOTFOUND:
		writeToDo(w, []tandem.ToDo{})
	default:
		s.writeToDoError(w, r, err)
	}
}

// handleListToDos answers GET /todo/v1/items with every item, by id.
func (s *Server) handleListToDos(w http.ResponseWriter, r *http.Request) {
	todos, err := s.ToDos.FindToDos(r.Context())
	if err != nil {
		s.writeToDoError(w, r, err)
		return
	}
	writeToDo(w, todos)
}

// handleUpsertToDo creates an item from {"task","status"}, or with "id"
// updates it, and answers with the item.
func (s *Server) handleUpsertToDo(w http.ResponseWriter, r *http.Request) {
	t, err := decodeToDo(w, r)
	if err == nil {
		err = t.Validate()
	}
	if err == nil {
		err = s.CheckWrite(r.Context())
	}
	if err == nil {
		if t.ID == 0 {
			err = s.ToDos.CreateToDo(r.Context(), &t)
		} else {
			err = s.ToDos.UpdateToDo(r.Context(), t)
		}
	}
	if err != nil {
		s.writeToDoError(w, r, err)
		return
	}
	writeToDo(w, t)
}

// handleDeleteToDo deletes the item {"id"}.
func (s *Server) handleDeleteToDo(w http.ResponseWriter, r *http.Request) {
	t, err := decodeToDo(w, r)
	if err == nil && t.ID == 0 {
		err = tandem.Errorf(tandem.EINVALID, "missing field: id")
	}
	if err == nil {
		err = s.CheckWrite(r.Context())
	}
	if err == nil {
		err = s.ToDos.DeleteToDo(r.Context(), t.ID)
	}
	if err != nil {
		s.writeToDoError(w, r, err)
		return
	}
	writeToDo(w, map[string]int64{"id": t.ID})
}
