module github.com/packr-dev/packr/go

go 1.24
