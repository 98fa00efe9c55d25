module packr-bench

go 1.24

require github.com/packr-dev/packr/go v0.0.0

replace github.com/packr-dev/packr/go => ../../go
