// Drives a credential helper through Docker's own client library, the code Docker links against, and prints what
// the library made of each answer as one JSON line. The secret arrives in the environment, never as an argument.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
)

type outcome struct {
	OK          bool                     `json:"ok"`
	NotFound    bool                     `json:"notFound,omitempty"`
	Error       string                   `json:"error,omitempty"`
	Credentials *credentials.Credentials `json:"credentials,omitempty"`
	List        map[string]string        `json:"list,omitempty"`
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: go-client HELPER store|get|erase|list [serverURL [username]]")
		os.Exit(2)
	}
	program := client.NewShellProgramFunc(os.Args[1])
	arg := func(i int) string {
		if len(os.Args) > i {
			return os.Args[i]
		}
		return ""
	}
	var result outcome
	var err error
	switch os.Args[2] {
	case "store":
		err = client.Store(program, &credentials.Credentials{ServerURL: arg(3), Username: arg(4), Secret: os.Getenv("SECRET")})
	case "get":
		result.Credentials, err = client.Get(program, arg(3))
	case "erase":
		err = client.Erase(program, arg(3))
	case "list":
		result.List, err = client.List(program)
	}
	result.OK = err == nil
	if err != nil {
		result.NotFound = credentials.IsErrCredentialsNotFound(err)
		result.Error = err.Error()
	}
	_ = json.NewEncoder(os.Stdout).Encode(result)
}
