# Install rules and CPack's Debian package for Gavel; included at the end of CMakeLists.txt.
include(GNUInstallDirs)

# Man pages are installed compressed, as Debian wants them.
set(GV_MAN_PAGES gavel.1 gavel.conf.lua.5)
set(GV_MAN_OUT)
foreach(page ${GV_MAN_PAGES})
  add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/man/${page}.gz
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/docs/man/${page} > ${CMAKE_BINARY_DIR}/man/${page}.gz
    DEPENDS ${CMAKE_SOURCE_DIR}/docs/man/${page}
    COMMENT "Compressing the ${page} man page" VERBATIM)
  list(APPEND GV_MAN_OUT ${CMAKE_BINARY_DIR}/man/${page}.gz)
endforeach()
add_custom_target(gavel_man ALL DEPENDS ${GV_MAN_OUT})

add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/deb
  COMMAND gzip -9n -c ${CMAKE_SOURCE_DIR}/scripts/debian/changelog > ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
  DEPENDS ${CMAKE_SOURCE_DIR}/scripts/debian/changelog VERBATIM)
add_custom_target(gavel_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz)

configure_file(${CMAKE_SOURCE_DIR}/scripts/debian/gavel-plugin.pc.in ${CMAKE_BINARY_DIR}/deb/gavel-plugin.pc @ONLY)

install(TARGETS gavel RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/workflows/ DESTINATION ${CMAKE_INSTALL_DATADIR}/gavel/workflows
  FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${CMAKE_SOURCE_DIR}/include/gavel/plugin.h ${CMAKE_SOURCE_DIR}/include/gavel/errors.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/gavel)
install(FILES ${CMAKE_BINARY_DIR}/deb/gavel-plugin.pc DESTINATION ${CMAKE_INSTALL_DATADIR}/pkgconfig)
install(DIRECTORY DESTINATION lib/gavel/plugins)
install(FILES ${CMAKE_BINARY_DIR}/man/gavel.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
install(FILES ${CMAKE_BINARY_DIR}/man/gavel.conf.lua.5.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
install(FILES ${CMAKE_SOURCE_DIR}/scripts/debian/copyright ${CMAKE_BINARY_DIR}/deb/changelog.Debian.gz
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/gavel)
install(FILES ${CMAKE_SOURCE_DIR}/docs/operations.md DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/gavel)
# Outside the prefix: only for the Debian package (prefix /usr), where dpkg owns them.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  install(FILES ${CMAKE_SOURCE_DIR}/scripts/debian/gavel.conf.lua DESTINATION /etc/gavel)
  install(FILES ${CMAKE_SOURCE_DIR}/scripts/debian/gavel.service DESTINATION /lib/systemd/system)
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gavel)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "Gavel maintainers <maintainers@gavel.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "consultation and voting workflow engine for intergovernmental forums")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://gavel.invalid/")
# CPack takes the synopsis from the summary and indents each line of this text itself.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "Gavel runs the consultations, silence procedures and decisions of a forum:
the secretariat writes its procedures as small Lua workflows, delegates
submit their state's positions and the chair records decisions. It serves
an HTTP API and web pages from one SQLite database, with a tamper-evident
audit log and email notifications.

This package runs it as a systemd service under its own user, configured
in /etc/gavel/gavel.conf.lua, and ships the header plugins are written
against.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${CMAKE_SOURCE_DIR}/scripts/debian/conffiles
  ${CMAKE_SOURCE_DIR}/scripts/debian/postinst
  ${CMAKE_SOURCE_DIR}/scripts/debian/prerm
  ${CMAKE_SOURCE_DIR}/scripts/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
