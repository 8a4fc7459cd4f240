#pragma once
// Result<T>: what a factory or a fallible call returns, the value or the error text explaining
// why there is none (the library's or the system's own words, naming what failed). Every module
// returns it instead of a half-open object or an exception.

#include <string>
#include <utility>
#include <variant>

namespace tcpcopy::os {

template <class T>
class Result {
  public:
    static Result ok(T value) { return Result(std::move(value)); }
    static Result fail(std::string error) { return Result(Error{std::move(error)}); }

    explicit operator bool() const { return std::holds_alternative<T>(state_); }
    T& value() & { return std::get<T>(state_); }
    T&& value() && { return std::get<T>(std::move(state_)); }
    const std::string& error() const { return std::get<Error>(state_).text; }

  private:
    struct Error {
        std::string text;
    };
    explicit Result(T value) : state_(std::move(value)) {}
    explicit Result(Error error) : state_(std::move(error)) {}
    std::variant<T, Error> state_;
};

}  // namespace tcpcopy::os
