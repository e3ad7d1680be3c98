// The OCSF validator; see ocsf_validator.h.
#include "tests/collector/ocsf_validator.h"

#include <rapidjson/document.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <regex>

#include "common/fs.h"

namespace bt::testing::ocsf {

namespace {

// One attribute as a class or object declares it, after merging.
struct Attr {
  std::string requirement;             // required, recommended, optional
  std::optional<std::string> profile;  // the profile it comes from; none: always there
  std::string type;                    // a dictionary type (string_t, port_t...) or an object name
  bool is_array = false;
  std::set<std::string> enum_keys;  // empty: no enum
  bool deprecated = false;
};

struct Resolved {
  std::map<std::string, Attr> attrs;
  std::vector<std::string> at_least_one, just_one;
  std::string category;  // classes only
  int uid = 0;           // classes only: the uid within the category
  bool has_uid = false;
};

std::string str_of(const rapidjson::Value& v) { return std::string(v.GetString(), v.GetStringLength()); }

std::vector<std::string> strings_of(const rapidjson::Value& v) {
  std::vector<std::string> out;
  if (v.IsArray())
    for (const auto& s : v.GetArray())
      if (s.IsString()) out.push_back(str_of(s));
  return out;
}

const rapidjson::Value* member(const rapidjson::Value& v, const char* name) {
  if (!v.IsObject()) return nullptr;
  auto m = v.FindMember(name);
  return m == v.MemberEnd() ? nullptr : &m->value;
}

}  // namespace

struct Schema::Impl {
  std::string root;
  mutable std::map<std::string, std::unique_ptr<rapidjson::Document>> files;  // by relative path
  mutable std::map<std::string, std::optional<Resolved>> objects;             // by name
  mutable std::map<int, std::optional<Resolved>> classes;                     // by class_uid
  mutable std::map<std::string, std::string> class_files;                     // class name -> path
  std::map<std::string, int> categories;                                      // name -> uid
  mutable std::vector<std::string> load_errors;
  mutable std::set<std::string> used;  // files a record's class or objects were resolved from

  const rapidjson::Document* use(const std::string& rel) const {
    const auto* d = file(rel);
    if (d) used.insert(rel);
    return d;
  }

  // A schema file, parsed once; null (and a load error) when missing or bad.
  const rapidjson::Document* file(const std::string& rel) const {
    auto it = files.find(rel);
    if (it != files.end()) return it->second.get();
    auto text = fs::read_file(root + "/" + rel, 8 << 20);
    std::unique_ptr<rapidjson::Document> doc;
    if (!text) {
      load_errors.push_back("schema file " + rel + " missing");
    } else {
      doc = std::make_unique<rapidjson::Document>();
      doc->Parse(text->data(), text->size());
      if (doc->HasParseError() || !doc->IsObject()) {
        load_errors.push_back("schema file " + rel + " is not a JSON object");
        doc.reset();
      }
    }
    return (files[rel] = std::move(doc)).get();
  }

  const rapidjson::Value* dictionary_attr(const std::string& name) const {
    const auto* d = file("dictionary.json");
    const auto* attrs = d ? member(*d, "attributes") : nullptr;
    return attrs ? member(*attrs, name.c_str()) : nullptr;
  }

  const rapidjson::Value* type_def(const std::string& name) const {
    const auto* d = file("dictionary.json");
    const auto* types = d ? member(*d, "types") : nullptr;
    const auto* attrs = types ? member(*types, "attributes") : nullptr;
    return attrs ? member(*attrs, name.c_str()) : nullptr;
  }

  // The fields of one declaration merged over `into`: requirement, type,
  // is_array and profile replace; enum values add up.
  static void merge_spec(Attr& into, const rapidjson::Value& spec) {
    if (const auto* r = member(spec, "requirement"); r && r->IsString()) into.requirement = str_of(*r);
    if (const auto* t = member(spec, "type"); t && t->IsString()) into.type = str_of(*t);
    if (const auto* a = member(spec, "is_array"); a && a->IsBool()) into.is_array = a->GetBool();
    if (const auto* p = member(spec, "profile"))
      into.profile = p->IsString() ? std::optional(str_of(*p)) : std::nullopt;
    if (const auto* e = member(spec, "enum"); e && e->IsObject())
      for (const auto& k : e->GetObject()) into.enum_keys.insert(str_of(k.name));
    if (member(spec, "@deprecated")) into.deprecated = true;
  }

  // The attributes a file declares: its $include'd profiles, then its own.
  void declare(Resolved& r, const rapidjson::Value& file_doc) const {
    const auto* attrs = member(file_doc, "attributes");
    if (!attrs || !attrs->IsObject()) return;
    if (const auto* inc = member(*attrs, "$include"))
      for (const auto& rel : strings_of(*inc)) {
        const auto* p = use(rel);
        if (!p) continue;
        const auto* pname = member(*p, "name");
        const auto* meta = member(*p, "meta");
        const bool is_profile = meta && meta->IsString() && str_of(*meta) == "profile";
        const auto* pattrs = member(*p, "attributes");
        if (!pattrs || !pattrs->IsObject()) continue;
        for (const auto& a : pattrs->GetObject()) {
          Attr& attr = add(r, str_of(a.name));
          if (is_profile && pname && pname->IsString()) attr.profile = str_of(*pname);
          merge_spec(attr, a.value);
        }
      }
    for (const auto& a : attrs->GetObject()) {
      const std::string name = str_of(a.name);
      if (name == "$include") continue;
      merge_spec(add(r, name), a.value);
    }
    if (const auto* c = member(file_doc, "constraints"); c && c->IsObject()) {
      r.at_least_one.clear();
      r.just_one.clear();
      if (const auto* l = member(*c, "at_least_one")) r.at_least_one = strings_of(*l);
      if (const auto* j = member(*c, "just_one")) r.just_one = strings_of(*j);
    }
  }

  // An attribute of `r`, made from the dictionary's entry when new.
  Attr& add(Resolved& r, const std::string& name) const {
    auto it = r.attrs.find(name);
    if (it != r.attrs.end()) return it->second;
    Attr& a = r.attrs[name];
    if (const auto* d = dictionary_attr(name)) merge_spec(a, *d);
    return a;
  }

  std::optional<Resolved> resolve_object(const std::string& name) const {
    auto it = objects.find(name);
    if (it != objects.end()) return it->second;
    objects[name] = std::nullopt;  // a cycle, should the schema have one, ends here
    const auto* doc = use("objects/" + name + ".json");
    if (!doc) return std::nullopt;
    Resolved r;
    if (const auto* ext = member(*doc, "extends"); ext && ext->IsString()) {
      auto parent = resolve_object(str_of(*ext));
      if (!parent) return std::nullopt;
      r = *parent;
    }
    declare(r, *doc);
    return objects[name] = r;
  }

  // The class files under events/, by name (each file is named after its
  // class), listed once.
  void list_classes() const {
    if (!class_files.empty()) return;
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root + "/events", ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
      if (it->path().extension() == ".json")
        class_files[it->path().stem().string()] = std::filesystem::relative(it->path(), root).string();
  }

  // A class's category, its own or the nearest parent's.
  std::string category_of(const std::string& name, int depth = 0) const {
    auto f = class_files.find(name);
    const auto* doc = f == class_files.end() || depth > 16 ? nullptr : file(f->second);
    if (!doc) return "";
    if (const auto* c = member(*doc, "category"); c && c->IsString()) return str_of(*c);
    const auto* ext = member(*doc, "extends");
    return ext && ext->IsString() ? category_of(str_of(*ext), depth + 1) : "";
  }

  std::optional<Resolved> resolve_class_named(const std::string& name) const {
    list_classes();
    auto f = class_files.find(name);
    if (f == class_files.end()) return std::nullopt;
    const auto* doc = use(f->second);
    if (!doc) return std::nullopt;
    Resolved r;
    if (const auto* ext = member(*doc, "extends"); ext && ext->IsString()) {
      auto parent = resolve_class_named(str_of(*ext));
      if (!parent) return std::nullopt;
      r = *parent;
    }
    declare(r, *doc);
    r.category = category_of(name);
    if (const auto* u = member(*doc, "uid"); u && u->IsInt()) {
      r.uid = u->GetInt();
      r.has_uid = true;
    }
    return r;
  }

  int category_uid(const std::string& category) const {
    auto it = categories.find(category);
    return it == categories.end() ? 0 : it->second;  // base_event's "other": 0
  }

  std::optional<Resolved> resolve_class(int class_uid) const {
    auto it = classes.find(class_uid);
    if (it != classes.end()) return it->second;
    list_classes();
    // Only the class that matches is resolved (and counted as used).
    for (const auto& [name, rel] : class_files) {
      const auto* doc = file(rel);
      const auto* u = doc ? member(*doc, "uid") : nullptr;
      const int uid =
          u && u->IsInt() ? category_uid(category_of(name)) * 1000 + u->GetInt() : (name == "base_event" ? 0 : -1);
      if (uid == class_uid) return classes[class_uid] = resolve_class_named(name);
    }
    return classes[class_uid] = std::nullopt;
  }

  // ---- values -------------------------------------------------------------------

  void check_scalar(const std::string& path, const std::string& type, const rapidjson::Value& v,
                    const std::set<std::string>& profiles, std::vector<std::string>& out, int depth) const {
    if (type == "object") {  // unmapped, xattributes: any object
      if (!v.IsObject()) out.push_back(path + ": not an object");
      return;
    }
    const auto* t = type_def(type);
    if (!t) {  // an object type
      if (!v.IsObject()) {
        out.push_back(path + ": not an object (" + type + ")");
        return;
      }
      auto obj = resolve_object(type);
      if (!obj) {
        out.push_back(path + ": object type " + type + " not in the schema");
        return;
      }
      check_object(path, *obj, v, profiles, out, depth + 1);
      return;
    }
    // A primitive, or a type built on one with its own limits.
    const auto* base = member(*t, "type");
    const std::string primitive = base && base->IsString() ? str_of(*base) : type;
    if (primitive != type) check_scalar(path, primitive, v, profiles, out, depth);
    if (primitive == type) {
      bool ok = true;
      if (type == "string_t") ok = v.IsString();
      if (type == "integer_t")
        ok = v.IsInt64() && v.GetInt64() >= std::numeric_limits<int32_t>::min() &&
             v.GetInt64() <= std::numeric_limits<int32_t>::max();
      if (type == "long_t") ok = v.IsInt64();
      if (type == "float_t") ok = v.IsNumber();
      if (type == "boolean_t") ok = v.IsBool();
      if (!ok) out.push_back(path + ": not a " + type);
    }
    if (const auto* max = member(*t, "max_len");
        max && max->IsInt() && v.IsString() && static_cast<int>(v.GetStringLength()) > max->GetInt())
      out.push_back(path + ": longer than " + std::to_string(max->GetInt()) + " (" + type + ")");
    if (const auto* range = member(*t, "range"); range && range->IsArray() && range->Size() == 2 && v.IsInt64())
      if (v.GetInt64() < (*range)[0].GetInt64() || v.GetInt64() > (*range)[1].GetInt64())
        out.push_back(path + ": out of the range of " + type);
    if (const auto* re = member(*t, "regex"); re && re->IsString() && v.IsString()) {
      std::regex pattern;
      try {
        pattern = std::regex(str_of(*re), std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        return;  // a pattern ECMAScript cannot read: not checked
      }
      if (!std::regex_search(str_of(v), pattern)) out.push_back(path + ": does not match the pattern of " + type);
    }
  }

  void check_value(const std::string& path, const std::string& name, const Attr& a, const rapidjson::Value& v,
                   const std::set<std::string>& profiles, std::vector<std::string>& out, int depth) const {
    auto one = [&](const std::string& p, const rapidjson::Value& x) {
      check_scalar(p, a.type, x, profiles, out, depth);
      // class_uid, category_uid and type_uid are checked against the class.
      const bool computed = depth == 0 && (name == "class_uid" || name == "category_uid" || name == "type_uid");
      if (!a.enum_keys.empty() && !computed) {
        const std::string key = x.IsInt64() ? std::to_string(x.GetInt64()) : x.IsString() ? str_of(x) : "?";
        if (!a.enum_keys.count(key)) out.push_back(p + ": " + key + " is not one of its enum values");
      }
    };
    if (a.is_array) {
      if (!v.IsArray()) {
        out.push_back(path + ": not an array");
        return;
      }
      for (rapidjson::SizeType i = 0; i < v.Size(); ++i) one(path + "[" + std::to_string(i) + "]", v[i]);
      return;
    }
    one(path, v);
  }

  static bool applies(const Attr& a, const std::set<std::string>& profiles) {
    return !a.profile || profiles.count(*a.profile);
  }

  void check_object(const std::string& path, const Resolved& r, const rapidjson::Value& v,
                    const std::set<std::string>& profiles, std::vector<std::string>& out, int depth) const {
    const std::string prefix = path.empty() ? "" : path + ".";
    std::set<std::string> seen;
    for (const auto& m : v.GetObject()) {
      const std::string name = str_of(m.name);
      // RapidJSON keeps both; a reader would take either.
      if (!seen.insert(name).second) out.push_back(prefix + name + ": appears twice");
      auto it = r.attrs.find(name);
      if (it == r.attrs.end() || !applies(it->second, profiles)) {
        out.push_back(prefix + name + ": not an attribute here" +
                      (it != r.attrs.end() ? " without profile " + *it->second.profile : ""));
        continue;
      }
      if (it->second.deprecated) out.push_back(prefix + name + ": deprecated");
      if (it->second.type.empty()) {
        out.push_back(prefix + name + ": no type in the schema");
        continue;
      }
      check_value(prefix + name, name, it->second, m.value, profiles, out, depth);
    }
    for (const auto& [name, a] : r.attrs)
      if (a.requirement == "required" && applies(a, profiles) && !v.HasMember(name.c_str()))
        out.push_back(prefix + name + ": required, missing");
    auto present = [&](const std::vector<std::string>& names) {
      int n = 0;
      for (const auto& name : names) n += v.HasMember(name.c_str());
      return n;
    };
    if (!r.at_least_one.empty() && present(r.at_least_one) == 0)
      out.push_back((path.empty() ? "record" : path) + ": needs at least one of its at_least_one attributes");
    if (!r.just_one.empty() && present(r.just_one) != 1)
      out.push_back((path.empty() ? "record" : path) + ": needs just one of its just_one attributes");
  }
};

Schema::Schema(std::string root) : impl_(std::make_unique<Impl>()) {
  impl_->root = std::move(root);
  if (const auto* c = impl_->file("categories.json"))
    if (const auto* attrs = member(*c, "attributes"); attrs && attrs->IsObject())
      for (const auto& m : attrs->GetObject())
        if (const auto* uid = member(m.value, "uid"); uid && uid->IsInt())
          impl_->categories[str_of(m.name)] = uid->GetInt();
}

Schema::~Schema() = default;

std::vector<std::string> Schema::validate(std::string_view json) const {
  std::vector<std::string> out;
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) return {"not a JSON object"};
  const auto* class_uid = member(d, "class_uid");
  if (!class_uid || !class_uid->IsInt()) return {"class_uid: missing or not an integer"};
  const auto cls = impl_->resolve_class(class_uid->GetInt());
  if (!cls) {
    out.push_back("class_uid: " + std::to_string(class_uid->GetInt()) + " is no class of the schema");
  } else {
    const int category = impl_->category_uid(cls->category);
    if (const auto* c = member(d, "category_uid"); !c || !c->IsInt() || c->GetInt() != category)
      out.push_back("category_uid: not " + std::to_string(category) + ", the class's category");
    const auto* activity = member(d, "activity_id");
    if (const auto* t = member(d, "type_uid");
        activity && activity->IsInt() &&
        (!t || !t->IsInt64() || t->GetInt64() != int64_t{class_uid->GetInt()} * 100 + activity->GetInt()))
      out.push_back("type_uid: not class_uid * 100 + activity_id");
    std::set<std::string> profiles;
    if (const auto* m = member(d, "metadata"))
      if (const auto* p = member(*m, "profiles"))
        for (const auto& s : strings_of(*p)) profiles.insert(s);
    impl_->check_object("", *cls, d, profiles, out, 0);
  }
  for (const auto& e : impl_->load_errors) out.push_back(e);
  return out;
}

std::set<std::string> Schema::files_read() const {
  std::set<std::string> out = impl_->used;
  out.insert("dictionary.json");
  out.insert("categories.json");
  return out;
}

}  // namespace bt::testing::ocsf
