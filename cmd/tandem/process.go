package main

import (
	"os/exec"
	"runtime"
	"sync"
)

// startWithDeathSignal starts cmd, whose SysProcAttr.Pdeathsig asks for a
// signal when this process dies. Linux sends that signal when the thread
// that started the child ends, not the process, and a Go program may end a
// thread (one a goroutine locked and never unlocked): so every such child is
// started from one goroutine locked to a thread that lives as long as the
// program, begun by the first call.
func startWithDeathSignal(cmd *exec.Cmd) error {
	startsOnce.Do(func() {
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives on
			for start := range starts {
				start()
			}
		}()
	})
	errc := make(chan error, 1)
	starts <- func() { errc <- cmd.Start() }
	return <-errc
}

var (
	starts     = make(chan func())
	startsOnce sync.Once
)
