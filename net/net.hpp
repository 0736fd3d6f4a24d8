// Namespace aliases shared by every file that talks to the network. Including this pulls in no
// Asio or Beast header, so it is cheap to include from any header.
#pragma once

namespace boost::asio::ssl {}
namespace boost::beast::http {}

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
