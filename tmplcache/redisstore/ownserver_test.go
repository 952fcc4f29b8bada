package redisstore

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cachetagging/cachetagging/internal/testserver"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// ownServer is a redis-server this test starts, kills and restarts, so
// faults never disturb the shared server other packages' tests use. It
// listens on a unix socket only: no port to race for, and the same path
// after a restart.
type ownServer struct {
	t    testing.TB
	bin  string
	dir  string
	sock string
	cmd  *exec.Cmd
}

func startOwnServer(t testing.TB) *ownServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		testserver.Unavailable(t, "redis-server", err)
	}
	dir, err := os.MkdirTemp("", "redisstore") // short: socket paths are limited to ~100 bytes
	require.NoError(t, err)
	s := &ownServer{t: t, bin: bin, dir: dir, sock: filepath.Join(dir, "redis.sock")}
	t.Cleanup(func() {
		s.kill()
		_ = os.RemoveAll(dir)
	})
	s.start()
	return s
}

func (s *ownServer) start() {
	s.t.Helper()
	cmd := exec.Command(s.bin,
		"--port", "0", "--unixsocket", s.sock, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
	require.NoError(s.t, cmd.Start())
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.sock, MaxRetries: -1})
	defer func() { _ = c.Close() }()
	require.Eventually(s.t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		return c.Ping(ctx).Err() == nil
	}, 10*time.Second, 20*time.Millisecond, "own redis-server does not answer on %s", s.sock)
}

// kill ends the server at once, losing every key (no persistence).
func (s *ownServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *ownServer) dial() (net.Conn, error) { return net.Dial("unix", s.sock) }
