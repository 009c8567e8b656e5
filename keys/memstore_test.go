package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
)

// memStore is an in-memory Store, a test double of this package's own
// interface. Hooks let tests inject failures and interleavings.
type memStore struct {
	mu   sync.Mutex
	recs []Record

	// listHook, when set, runs in every ListSigningKeys after the records
	// are read (outside the lock); an error from it is returned instead.
	listHook func() error
	// afterWrite, when set, runs after every insert, update and delete with
	// the lock held and the records as they now are, so that a test can
	// check an invariant at every state the store ever passes through.
	afterWrite func(recs []Record)
	inserts    int
}

func (s *memStore) wrote() {
	if s.afterWrite != nil {
		s.afterWrite(s.recs)
	}
}

// insertCount is inserts, read under the lock.
func (s *memStore) insertCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inserts
}

func clone(r Record) Record {
	r.PrivateKey = slices.Clone(r.PrivateKey)
	return r
}

func (s *memStore) ListSigningKeys(ctx context.Context) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	out := make([]Record, len(s.recs))
	for i, r := range s.recs {
		out[i] = clone(r)
	}
	s.mu.Unlock()
	if s.listHook != nil {
		if err := s.listHook(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *memStore) InsertSigningKey(ctx context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.recs {
		if have.ID == r.ID {
			return fmt.Errorf("memstore: duplicate key %s", r.ID)
		}
	}
	s.recs = append(s.recs, clone(r))
	s.inserts++
	s.wrote()
	return nil
}

func (s *memStore) UpdateSigningKey(ctx context.Context, r Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.recs {
		if s.recs[i].ID == r.ID {
			s.recs[i].State = r.State
			s.recs[i].ActivatesAt = r.ActivatesAt
			s.recs[i].RetiredAt = r.RetiredAt
			s.recs[i].ExpiresAt = r.ExpiresAt
			s.wrote()
			return nil
		}
	}
	return errors.New("memstore: no such key")
}

func (s *memStore) DeleteSigningKey(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.recs {
		if s.recs[i].ID == id {
			s.recs = slices.Delete(s.recs, i, i+1)
			s.wrote()
			return nil
		}
	}
	return nil // as the Store contract says: not an error
}

func (s *memStore) snapshot() []Record {
	recs, _ := (&memStore{recs: s.lockedRecs()}).ListSigningKeys(context.Background())
	return recs
}

func (s *memStore) lockedRecs() []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

var _ Store = (*memStore)(nil)
