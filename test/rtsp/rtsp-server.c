/*
 * A tiny RTSP server for facexstream's tests: serves one H.264 MP4 file, without
 * transcoding, at rtsp://127.0.0.1:<port><mount>. Each client gets its own playback of
 * the file from the start; playback ends at the end of the file (no looping: tests use a
 * clip longer than they need).
 *
 *   rtsp-server --file F [--port N] [--mount /path] [--auth user:pass]
 *
 * --port 0 (the default) binds any free port. Once listening, it prints one line
 * "PORT <n>" on stdout. It exits on SIGINT or SIGTERM, and when its stdin reaches end of
 * file, so a test runner that dies takes the server with it.
 *
 * Build: gcc -O2 -o rtsp-server rtsp-server.c $(pkg-config --cflags --libs
 *        gstreamer-rtsp-server-1.0)
 */
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>
#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static gboolean quit_loop(gpointer loop) {
  g_main_loop_quit((GMainLoop *)loop);
  return G_SOURCE_REMOVE;
}

static gboolean on_stdin(gint fd, GIOCondition condition, gpointer loop) {
  char buf[256];
  ssize_t n = read(fd, buf, sizeof buf);
  if (n > 0 && !(condition & (G_IO_HUP | G_IO_ERR))) return G_SOURCE_CONTINUE;
  g_main_loop_quit((GMainLoop *)loop);
  return G_SOURCE_REMOVE;
}

static void usage(void) {
  fprintf(stderr, "usage: rtsp-server --file F [--port N] [--mount /path] [--auth user:pass]\n");
  exit(2);
}

static void add_basic_auth(GstRTSPServer *server, GstRTSPMediaFactory *factory,
                           const char *user_pass) {
  const char *colon = strchr(user_pass, ':');
  if (colon == NULL) usage();
  gchar *user = g_strndup(user_pass, colon - user_pass);

  GstRTSPAuth *auth = gst_rtsp_auth_new();
  GstRTSPToken *token =
      gst_rtsp_token_new(GST_RTSP_TOKEN_MEDIA_FACTORY_ROLE, G_TYPE_STRING, "viewer", NULL);
  gchar *basic = gst_rtsp_auth_make_basic(user, colon + 1);
  gst_rtsp_auth_add_basic(auth, basic, token);
  gst_rtsp_server_set_auth(server, auth);

  gst_rtsp_media_factory_add_role(factory, "viewer", GST_RTSP_PERM_MEDIA_FACTORY_ACCESS,
                                  G_TYPE_BOOLEAN, TRUE, GST_RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
                                  G_TYPE_BOOLEAN, TRUE, NULL);
  g_free(basic);
  g_free(user);
  gst_rtsp_token_unref(token);
  g_object_unref(auth);
}

int main(int argc, char **argv) {
  const char *file = NULL, *port = "0", *mount = "/stream", *user_pass = NULL;

  gst_init(&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--file") == 0) file = argv[++i];
    else if (strcmp(argv[i], "--port") == 0) port = argv[++i];
    else if (strcmp(argv[i], "--mount") == 0) mount = argv[++i];
    else if (strcmp(argv[i], "--auth") == 0) user_pass = argv[++i];
    else usage();
  }
  if (file == NULL || mount[0] != '/') usage();
  if (!g_file_test(file, G_FILE_TEST_IS_REGULAR)) {
    fprintf(stderr, "rtsp-server: no such file: %s\n", file);
    return 1;
  }

  GMainLoop *loop = g_main_loop_new(NULL, FALSE);
  GstRTSPServer *server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, port);

  /* The location goes through GStreamer's launch syntax, so quote it. */
  gchar *escaped = g_strescape(file, NULL);
  gchar *launch = g_strdup_printf(
      "( filesrc location=\"%s\" ! qtdemux ! h264parse ! "
      "rtph264pay name=pay0 pt=96 config-interval=-1 )",
      escaped);
  GstRTSPMediaFactory *factory = gst_rtsp_media_factory_new();
  gst_rtsp_media_factory_set_launch(factory, launch);
  g_free(launch);
  g_free(escaped);

  if (user_pass != NULL) add_basic_auth(server, factory, user_pass);

  GstRTSPMountPoints *mounts = gst_rtsp_server_get_mount_points(server);
  gst_rtsp_mount_points_add_factory(mounts, mount, factory);
  g_object_unref(mounts);

  if (gst_rtsp_server_attach(server, NULL) == 0) {
    fprintf(stderr, "rtsp-server: cannot listen on 127.0.0.1:%s (port taken?)\n", port);
    return 1;
  }

  g_unix_signal_add(SIGINT, quit_loop, loop);
  g_unix_signal_add(SIGTERM, quit_loop, loop);
  g_unix_fd_add(0, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, loop);

  printf("PORT %d\n", gst_rtsp_server_get_bound_port(server));
  fflush(stdout);

  g_main_loop_run(loop);
  g_object_unref(server);
  g_main_loop_unref(loop);
  return 0;
}
