// `cadcrafter serve [--port 8080 --host 127.0.0.1]`: the web page (app/web_server.h).
#include <cstdio>
#include <memory>
#include <string>

#include "app/web_server.h"
#include "command.h"

namespace cadcrafter::cli {
namespace {

struct ServeOptions {
  std::string host = "127.0.0.1";
  int port = 8080;
  std::string weights, web;
  int threads = 2;
};

int run_serve(const ServeOptions& o) {
  app::WebServerOptions options;
  options.host = o.host;
  options.port = o.port;
  options.web_dir = o.web;
  options.defaults.weights_dir = o.weights;
  options.defaults.threads = o.threads;
  app::WebServer server(options);
  if (auto s = server.bind(); !s) return fail("serve", s.error().message);
  std::fprintf(stderr, "cadcrafter serve: http://%s:%d/ (Ctrl-C to stop)\n", o.host.c_str(), server.port());
  if (auto s = server.serve(); !s) return fail("serve", s.error().message);
  return 0;
}

CommandRegistration reg("serve", "Web page: upload photos, get ranked CAD candidates", [](CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  app.add_option("--host", o->host, "Address to listen on (loopback by default)")->capture_default_str();
  app.add_option("--port", o->port, "Port")->capture_default_str()->check(CLI::Range(1, 65535));
  app.add_option("--weights", o->weights, "Folder with estimator.pt (default: the shipped models/)");
  app.add_option("--web", o->web, "Folder with index.html (default: the shipped web/)");
  app.add_option("--threads", o->threads, "CPU threads per reconstruction")->capture_default_str();
  return [o]() { return run_serve(*o); };
});

}  // namespace
}  // namespace cadcrafter::cli
