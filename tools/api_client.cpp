#include "tools/api_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>

namespace placemesh::tools {

namespace {

// libcurl's global state, set up once before the first handle.
struct Global {
  Global() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~Global() { curl_global_cleanup(); }
};

void ensure_global() { static const Global global; }

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& headers = *static_cast<std::map<std::string, std::string>*>(user);
  const std::string_view line(data, size * count);
  if (line.starts_with("HTTP/")) headers.clear();  // a new response (after a 100 Continue or a redirect)
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
    headers[name] = std::string(value);
  }
  return size * count;
}

// The failures after which the request cannot have reached the node.
bool never_sent(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      return true;
    default:
      return false;
  }
}

}  // namespace

struct ApiClient::Handle {
  CURL* curl = nullptr;
  // libcurl may write here whenever it works on the handle, cleanup included.
  char error[CURL_ERROR_SIZE] = {};
  ~Handle() {
    if (curl) curl_easy_cleanup(curl);
  }
};

ApiClient::ApiClient(ApiClientOptions options) : options_(std::move(options)), handle_(std::make_unique<Handle>()) {
  ensure_global();
  while (options_.base_url.ends_with('/')) options_.base_url.pop_back();
  handle_->curl = curl_easy_init();
}

ApiClient::~ApiClient() = default;

std::string ApiClient::check_url(std::string_view url) {
  if (!url.starts_with("http://") && !url.starts_with("https://"))
    return "expected http://HOST:PORT or https://HOST:PORT";
  const auto host = url.substr(url.find("://") + 3);
  if (host.empty() || host.front() == '/' || host.front() == ':') return "no host after the scheme";
  return "";
}

ApiClient::Outcome ApiClient::request(std::string_view method, std::string_view target, std::string_view body,
                                      std::string_view token) {
  Outcome outcome;
  CURL* curl = handle_->curl;
  if (curl == nullptr) {
    outcome.failure.message = "libcurl could not start";
    return outcome;
  }
  // Settings from an earlier request (method, body) must not leak into this one;
  // the connection cache survives a reset.
  curl_easy_reset(curl);
  const std::string url = options_.base_url + std::string(target);
  const std::string method_text(method);
  ApiResponse response;
  char* error = handle_->error;
  error[0] = '\0';
  curl_slist* headers = nullptr;
  const std::string authorization = "Authorization: Bearer " + std::string(token);
  if (!token.empty()) headers = curl_slist_append(headers, authorization.c_str());
  if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for small bodies

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method_text.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PUT") {
    // Never a null pointer: libcurl would then read the body from stdin.
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &response.headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "placemeshctl");

  const CURLcode code = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    outcome.failure.message = error[0] != '\0' ? error : curl_easy_strerror(code);
    outcome.failure.sent = !never_sent(code);
    return outcome;
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  outcome.response = std::move(response);
  return outcome;
}

}  // namespace placemesh::tools
