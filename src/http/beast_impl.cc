// Separate compilation of Asio and Beast: their implementation is compiled once here, and every
// other file that uses them (with BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION defined) only sees declarations.
#include <boost/asio/impl/src.hpp>
#include <boost/beast/src.hpp>
