# muonlab_add_plugin(<name> KIND problem|optimizer|orthogonalizer SOURCES <files>...)
#
# Builds one plugin as a shared library named muonlab-<kind>-<name>.so in the plugin
# directory the core searches (build/lib/muonlab/plugins, or the install prefix's).
function(muonlab_add_plugin name)
  cmake_parse_arguments(ARG "" "KIND;OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_KIND MATCHES "^(problem|optimizer|orthogonalizer)$")
    message(FATAL_ERROR "muonlab_add_plugin(${name}): KIND must be problem, optimizer or orthogonalizer")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "muonlab_add_plugin(${name}): SOURCES is empty")
  endif()
  set(target muonlab-${ARG_KIND}-${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE muonlab::api ${ARG_LIBRARIES})
  if(NOT ARG_OUTPUT_DIRECTORY)
    if(DEFINED MUONLAB_PLUGIN_OUTPUT_DIR)
      set(ARG_OUTPUT_DIRECTORY ${MUONLAB_PLUGIN_OUTPUT_DIR})
    else()
      set(ARG_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
    endif()
  endif()
  # Hidden visibility: only the three Boost.DLL aliases are exported, so same-named
  # symbols of two plugins never shadow each other.
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  if(DEFINED MUONLAB_PLUGIN_INSTALL_DIR)
    install(TARGETS ${target} LIBRARY DESTINATION ${MUONLAB_PLUGIN_INSTALL_DIR})
  endif()
  set_property(GLOBAL APPEND PROPERTY MUONLAB_PLUGIN_TARGETS ${target})
endfunction()
