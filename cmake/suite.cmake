# suite_library(<name> SOURCES ... DEPS ...): one static library per folder under libs/,
# public headers in include/suite/<name>/, exported as suite::<name>.
function(suite_library name)
  cmake_parse_arguments(A "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(suite_${name} STATIC ${A_SOURCES})
  add_library(suite::${name} ALIAS suite_${name})
  target_include_directories(suite_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include)
  target_link_libraries(suite_${name} PUBLIC ${A_PUBLIC_DEPS} PRIVATE ${A_PRIVATE_DEPS})
endfunction()

# suite_tests(<target> LABEL unit|db [LOCK name] SOURCES ... DEPS ...): a Catch2 binary whose
# cases ctest discovers one by one, all carrying LABEL so that `ctest -L unit` needs no server.
# LOCK: the cases share a resource (a table they empty) and never run at the same time.
function(suite_tests target)
  if(SUITE_FUZZ)
    return()  # the fuzz build has only fuzz targets
  endif()
  cmake_parse_arguments(A "" "LABEL;LOCK" "SOURCES;DEPS" ${ARGN})
  add_executable(${target} ${A_SOURCES})
  target_link_libraries(${target} PRIVATE ${A_DEPS} Catch2::Catch2WithMain)
  if(A_LOCK)
    catch_discover_tests(${target} EXTRA_ARGS --warn NoTests PROPERTIES LABELS ${A_LABEL} RESOURCE_LOCK ${A_LOCK} TEST_PREFIX "${target}:")
  else()
    catch_discover_tests(${target} EXTRA_ARGS --warn NoTests PROPERTIES LABELS ${A_LABEL} TEST_PREFIX "${target}:")
  endif()
endfunction()

# suite_embed_sql(<target> <namespace> files...): compiles SQL migrations into the binary so a
# deployment cannot ship code and schema out of step.
function(suite_embed_sql target ns)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${target}_migrations.cpp)
  set(body "#include \"suite/db/migrations.hpp\"\nnamespace ${ns} {\nconst std::vector<suite::db::Migration>& Migrations() {\n  static const std::vector<suite::db::Migration> kAll = {\n")
  foreach(f ${ARGN})
    get_filename_component(fname ${f} NAME)
    string(REGEX MATCH "^[0-9]+" ver ${fname})
    # "008" would be an (invalid) octal literal, and "010" a silent 8: the decimal value.
    math(EXPR ver "${ver}" OUTPUT_FORMAT DECIMAL)
    file(READ ${CMAKE_CURRENT_SOURCE_DIR}/${f} sql)
    string(APPEND body "    {${ver}, \"${fname}\", R\"__sql__(${sql})__sql__\"},\n")
    set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/${f})
  endforeach()
  string(APPEND body "  };\n  return kAll;\n}\n}  // namespace ${ns}\n")
  file(GENERATE OUTPUT ${out} CONTENT "${body}")
  target_sources(${target} PRIVATE ${out})
endfunction()

# suite_service(<target> main.cpp ...): a service's executable, with the services' allocator
# (jemalloc, unless a sanitizer build).
function(suite_service target)
  add_executable(${target} ${ARGN})
  if(SUITE_JEMALLOC)
    target_link_libraries(${target} PRIVATE PkgConfig::JEMALLOC)
  endif()
endfunction()
